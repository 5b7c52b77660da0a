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
				func() *Render { return &Render{warm: warm} }).
				WithExample(renderExample),
		},
	}
}

// renderExample renders one tiny frame of Blender's factory startup scene
// with Cycles on the CPU, one sample, no denoiser: no blend file, GPU,
// display or add-on needed, so `cajon plugins check blender` completes
// wherever a Blender is installed, in a few seconds, and shows a real
// render's progress, output and preview. A node without Blender fails the
// check, naming the missing program: it could not render either.
var renderExample = map[string]any{
	"exeArgs": "-b --factory-startup",
	"args": []any{
		"--python-expr", "import bpy; s = bpy.context.scene; s.render.engine = 'CYCLES'; " +
			"s.cycles.device = 'CPU'; s.cycles.samples = 1; s.cycles.use_denoising = False; " +
			"s.render.resolution_x = 64; s.render.resolution_y = 36; s.render.resolution_percentage = 100",
		"--render-output", "frames/frame_####", "--render-format", "PNG", "--render-frame", "1",
	},
}
