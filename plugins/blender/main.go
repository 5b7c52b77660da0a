// Command cajon-plugin-blender provides blender-render (task type blender),
// the command of Flamenco's Simple Blender Render job type: it runs Blender,
// follows its output for progress, reports the frames it writes, and makes a
// small JPEG preview of each frame for the Manager. Consecutive tasks of a
// job render in a warm Blender that keeps the scene loaded (warm.go).
package main

import "github.com/cajonfarm/cajon/sdk"

// version is the plugin's own version, shown by `cajon plugins`.
const version = "1.0.0"

func main() { sdk.Serve(plugin(newSessions())) }

// plugin describes the plugin, whose renders share warm; tests serve it
// in-process.
func plugin(warm *sessions) sdk.Plugin {
	return sdk.Plugin{
		Name:         "blender",
		Version:      version,
		Config:       sdk.ConfigOf(defaultConfig()),
		Capabilities: sdk.Capabilities{Previews: true},
		Commands: []sdk.Command{
			sdk.NewCommandWith("blender-render", "blender",
				"Render with Blender: exe, exeArgs..., argsBefore..., blendfile, args...; progress per frame, outputs and previews.",
				func() *Render { return &Render{warm: warm} }),
		},
	}
}
