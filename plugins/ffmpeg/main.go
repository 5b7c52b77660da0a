// Command cajon-plugin-ffmpeg provides frames-to-video (task type ffmpeg),
// the command Flamenco's Simple Blender Render job type ends with: it turns
// the rendered frames that match a glob into a video with FFmpeg.
package main

import "github.com/cajonfarm/cajon/sdk"

// version is the plugin's own version, shown by `cajon plugins`.
const version = "1.0.0"

func main() { sdk.Serve(plugin()) }

// plugin describes the plugin; tests serve it in-process.
func plugin() sdk.Plugin {
	return sdk.Plugin{
		Name:    "ffmpeg",
		Version: version,
		Config:  sdk.ConfigOf(config{}),
		Commands: []sdk.Command{
			sdk.NewCommand[FramesToVideo]("frames-to-video", "ffmpeg",
				"Encode the frames matching inputGlob, in natural order, into outputFile with FFmpeg."),
		},
	}
}
