package main

// config is the plugin's [plugins.blender] table in cajon.toml.
type config struct {
	// Exe is the Blender to run when the task does not name one (or names
	// just "blender"): a path, or a name looked up in PATH.
	Exe string `json:"exe"`
	// FailOnErrorLines fails the task when Blender prints an error line
	// ("Error: ...", a Python traceback) even if it exits with status 0.
	FailOnErrorLines bool `json:"fail_on_error_lines"`
	// FailOnMissingFiles fails the task when Blender cannot open a file the
	// scene needs (a linked library, the blend file).
	FailOnMissingFiles bool `json:"fail_on_missing_files"`
	// Previews makes a small JPEG of each rendered frame for the host.
	Previews bool `json:"previews"`
	// PreviewFFmpeg is the ffmpeg that makes the previews of EXR and TIFF
	// frames (a path, or a name looked up in PATH); "" or a missing ffmpeg
	// means those frames get none. PNG and JPEG frames never need it.
	PreviewFFmpeg string `json:"preview_ffmpeg"`
}

// defaultConfig is the configuration of a node without a [plugins.blender]
// table: strict about errors, with previews.
func defaultConfig() config {
	return config{FailOnErrorLines: true, FailOnMissingFiles: true, Previews: true, PreviewFFmpeg: "ffmpeg"}
}
