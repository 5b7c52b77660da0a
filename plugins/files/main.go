// Command cajon-plugin-files provides the file-management commands of
// Flamenco's job types: make-directory, move-directory and copy-file.
package main

import "github.com/cajonfarm/cajon/sdk"

// version is the plugin's own version, shown by `cajon plugins`.
const version = "1.0.0"

func main() { sdk.Serve(plugin()) }

// plugin describes the plugin; tests serve it in-process.
func plugin() sdk.Plugin {
	return sdk.Plugin{
		Name:    "files",
		Version: version,
		Config:  sdk.ConfigOf(settings{}),
		Commands: []sdk.Command{
			sdk.NewCommand[MakeDirectory]("make-directory", "file-management",
				"Create a folder and its missing parents."),
			sdk.NewCommand[MoveDirectory]("move-directory", "file-management",
				"Move a folder; an existing destination is first renamed to <dest>-YYYY-MM-DD_HHMMSS (its modification time)."),
			sdk.NewCommand[CopyFile]("copy-file", "file-management",
				"Copy a file to a destination that must not exist yet; written to a temporary file, synced, then renamed."),
		},
	}
}
