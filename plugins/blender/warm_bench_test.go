package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/sdk/sdktest"
)

// heavySceneScript makes the heavy benchmark scene: the tiny test scene's
// settings (Cycles, 1 sample, 64x36) plus a generated grid of argv[-2]
// squares a side, saved uncompressed, so that loading it and building its
// BVH take seconds.
const heavySceneScript = `
import bpy, sys
n, path = int(sys.argv[-2]), sys.argv[-1]
s = bpy.context.scene
s.render.engine = 'CYCLES'
s.cycles.device = 'CPU'
s.cycles.samples = 1
s.cycles.use_denoising = False
s.render.resolution_x = 64
s.render.resolution_y = 36
s.render.resolution_percentage = 100
s.render.image_settings.file_format = 'PNG'
bpy.ops.mesh.primitive_grid_add(x_subdivisions=n, y_subdivisions=n, size=4)
bpy.ops.wm.save_as_mainfile(filepath=path, compress=False)
`

// blenderTime matches the line Blender ends a frame with: " Time: 01:02.34
// (Saving: 00:00.10)".
var blenderTime = regexp.MustCompile(`^ Time: (?:(\d+):)?(\d+):(\d+\.\d+)`)

// renderSeconds adds up the Time lines of a task's log: Blender's own time
// for its frames, from the start of each frame's render to its file saved.
func renderSeconds(lines []string) float64 {
	total := 0.0
	for _, l := range lines {
		m := blenderTime.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		h, _ := strconv.ParseFloat(m[1], 64)
		mins, _ := strconv.ParseFloat(m[2], 64)
		secs, _ := strconv.ParseFloat(m[3], 64)
		total += h*3600 + mins*60 + secs
	}
	return total
}

// BenchmarkWarmSequence renders a job's frames one task each (chunk size
// 1), the tasks one after the other as a worker runs them, through the
// plugin in-process: cold (a Blender per task) and warm (one session). Each
// iteration starts with no warm Blender, so the warm figure includes the
// first task's start-up. Scenes: the tests' tiny scene (10 frames) and a
// heavy one, a 1000x1000 grid (2 million triangles, ~130 MB uncompressed; 6
// frames). Metrics per frame: s/frame (wall time of a task), render-s/frame
// (Blender's own Time lines), x-render (the two divided); and first-s, the
// first task, and next-s/frame, the tasks after it (the steady state).
func BenchmarkWarmSequence(b *testing.B) {
	blender := needBlender(b)
	isolateTemp(b)
	dir := b.TempDir()
	heavy := filepath.Join(dir, "heavy.blend")
	if out, err := exec.Command(blender, "-b", "--factory-startup", "--python-expr", heavySceneScript, "--", "1000", heavy).CombinedOutput(); err != nil {
		b.Fatalf("making the heavy scene: %v\n%s", err, out)
	}
	scenes := []struct {
		name   string
		path   string
		frames int
	}{
		{"tiny", makeScene(b, blender, dir), 10},
		{"heavy", heavy, 6},
	}
	for _, sc := range scenes {
		for _, warm := range []bool{false, true} {
			name := sc.name + "/cold"
			if warm {
				name = sc.name + "/warm"
			}
			b.Run(name, func(b *testing.B) {
				var wall, first time.Duration
				var render float64
				for i := range b.N {
					pool := newSessions()
					p := plugin(pool)
					out := filepath.Join(dir, fmt.Sprintf("%s-%d", strings.ReplaceAll(name, "/", "-"), i), "######")
					start := time.Now()
					for f := 1; f <= sc.frames; f++ {
						if f == 2 {
							first += time.Since(start)
						}
						params := renderParams(sc.path, "--render-output", out, "--render-format", "PNG", "--render-frame", strconv.Itoa(f))
						res := sdktest.Run(b, p, "blender-render", params,
							sdktest.Options{Config: map[string]any{"warm_sessions": warm}})
						if res.Status != sdktest.Completed {
							b.Fatalf("frame %d: %s: %s\n%s", f, res.Status, res.Message, strings.Join(res.Lines, "\n"))
						}
						render += renderSeconds(res.Lines)
					}
					wall += time.Since(start)
					b.StopTimer()
					pool.Close()
					b.StartTimer()
				}
				frames := float64(b.N * sc.frames)
				b.ReportMetric(wall.Seconds()/frames, "s/frame")
				b.ReportMetric(render/frames, "render-s/frame")
				b.ReportMetric(wall.Seconds()/render, "x-render")
				b.ReportMetric(first.Seconds()/float64(b.N), "first-s")
				b.ReportMetric((wall-first).Seconds()/float64(b.N*(sc.frames-1)), "next-s/frame")
			})
		}
	}
}
