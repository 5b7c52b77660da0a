package wire

import (
	"mime"
	"strings"
)

// PreviewFolder names the folder that marks preview images among a command's
// outputs. A plugin writes a small JPEG of a rendered frame to
// <any folder>/cajon-preview/<run id>/<name>.jpg and reports it as an output
// with MIME type image/jpeg; the host shows it (the Manager's
// output-produced, or the local job's latest preview) and then deletes the
// file.
const PreviewFolder = "cajon-preview"

// IsPreview reports whether an output is a preview image: a JPEG in a run's
// folder under PreviewFolder. Both path separators count, so a host can judge
// paths from a plugin on another OS.
func IsPreview(path, mimeType string) bool {
	mt, _, err := mime.ParseMediaType(mimeType)
	if err != nil || mt != "image/jpeg" {
		return false
	}
	parts := strings.FieldsFunc(path, func(r rune) bool { return r == '/' || r == '\\' })
	return len(parts) >= 3 && parts[len(parts)-3] == PreviewFolder
}
