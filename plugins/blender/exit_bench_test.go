package main

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/sdk/sdktest"
)

// hangAfterFrames is a --python-expr that keeps Blender from quitting, as
// the add-on of Flamenco's FAQ does, and prints the wall-clock time when
// the render is complete (right after the last Time line).
const hangAfterFrames = `
import atexit, bpy, time
def complete(*args):
    print("cajon-bench-complete %.6f" % time.time(), flush=True)
bpy.app.handlers.render_complete.append(complete)
atexit.register(lambda: time.sleep(3600))
`

// BenchmarkExitTimeout measures how long a task whose Blender will not quit
// takes from the end of its render (Blender's last Time line) to its
// result, with exit_timeout 2s: the timeout, then ending Blender's tree.
func BenchmarkExitTimeout(b *testing.B) {
	blender := needBlender(b)
	isolateTemp(b)
	dir := b.TempDir()
	scene := makeScene(b, blender, dir)
	p := testPlugin(b)
	opts := sdktest.Options{Config: map[string]any{"exit_timeout": "2s", "previews": false}}
	var total time.Duration
	for i := 0; i < b.N; i++ {
		res := sdktest.Run(b, p, "blender-render",
			renderParams(scene, "--python-expr", hangAfterFrames, "-o", filepath.Join(dir, "out", "####"), "-f", "1"), opts)
		done := time.Now()
		if res.Status != sdktest.Completed || len(res.Warnings) != 1 {
			b.Fatalf("render %s (%s), warnings %q\n%s", res.Status, res.Message, res.Warnings, strings.Join(res.Lines, "\n"))
		}
		var complete float64
		for _, l := range res.Lines {
			if v, ok := strings.CutPrefix(l, "cajon-bench-complete "); ok {
				complete, _ = strconv.ParseFloat(v, 64)
			}
		}
		if complete == 0 {
			b.Fatalf("no render_complete time in the log:\n%s", strings.Join(res.Lines, "\n"))
		}
		total += done.Sub(time.Unix(0, int64(complete*1e9)))
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s-after-last-frame/op")
}
