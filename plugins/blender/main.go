// Command cajon-plugin-blender provides blender-render (task type blender),
// the command of Flamenco's Simple Blender Render job type: it runs Blender,
// follows its output for progress, reports the frames it writes, and makes a
// small JPEG preview of each PNG or JPEG frame for the Manager.
package main

import "github.com/cajonfarm/cajon/sdk"

// version is the plugin's own version, shown by `cajon plugins`.
const version = "1.0.0"

func main() { sdk.Serve(plugin()) }

// plugin describes the plugin; tests serve it in-process.
func plugin() sdk.Plugin {
	return sdk.Plugin{
		Name:    "blender",
		Version: version,
		Commands: []sdk.Command{
			sdk.NewCommand[Render]("blender-render", "blender",
				"Render with Blender: exe, exeArgs..., argsBefore..., blendfile, args...; progress per frame, outputs and previews."),
		},
	}
}
