package sdk

import "github.com/cajonfarm/cajon/sdk/wire"

// PreviewFolder names the folder that marks preview images among a
// command's outputs. A command that renders images may write a small JPEG
// of one to <temp>/cajon-preview/<run id>/<name>.jpg (a run id made safe as
// a file name) and report it with Run.Output and MIME type image/jpeg: the
// host shows it as the job's latest image (the Manager's output-produced, or
// the local job's preview) and then deletes the file.
const PreviewFolder = wire.PreviewFolder
