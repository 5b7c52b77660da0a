package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/sdk/sdktest"
)

// interleavedFrames is how many one-frame tasks each of the two jobs of
// BenchmarkWarmInterleaved has.
const interleavedFrames = 4

// BenchmarkWarmInterleaved renders two small jobs whose tasks alternate (A1,
// B1, A2, B2, ...; chunk size 1, the tests' tiny scene, a copy per job) on two runners that
// share the plugin, as two local-queue slots or two identities (one per
// GPU) do: each runner takes the next task when its last one ends. Cold (a
// Blender per task) and warm; each iteration starts with no warm Blender.
// Metrics: wall-s, the time for both jobs; s/task; sessions/task, the share
// of tasks that started a warm Blender (in cold mode 0); warm/task, the
// share that rendered in one already warm.
func BenchmarkWarmInterleaved(b *testing.B) {
	blender := needBlender(b)
	isolateTemp(b)
	dir := b.TempDir()
	// A scene of each job's own, as two jobs usually have: with one, each
	// job's tasks could take the other's idle Blender over.
	scenes := map[string]string{}
	for _, job := range []string{"A", "B"} {
		jobDir := filepath.Join(dir, "scene-"+job)
		if err := os.MkdirAll(jobDir, 0o755); err != nil {
			b.Fatal(err)
		}
		scenes[job] = makeScene(b, blender, jobDir)
	}
	type task struct {
		job   string
		frame int
	}
	var order []task
	for f := 1; f <= interleavedFrames; f++ {
		order = append(order, task{"A", f}, task{"B", f})
	}
	for _, warm := range []bool{false, true} {
		name := "cold"
		if warm {
			name = "warm"
		}
		b.Run(name, func(b *testing.B) {
			var wall time.Duration
			var started, reused atomic.Int64
			for i := range b.N {
				pool := newSessions()
				p := plugin(pool)
				queue := make(chan task, len(order))
				for _, tk := range order {
					queue <- tk
				}
				close(queue)
				start := time.Now()
				var wg sync.WaitGroup
				for range 2 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for tk := range queue {
							out := filepath.Join(dir, fmt.Sprintf("%s-%d-%s", name, i, tk.job), "######")
							params := renderParams(scenes[tk.job], "--render-output", out, "--render-format", "PNG", "--render-frame", strconv.Itoa(tk.frame))
							res := sdktest.Run(b, p, "blender-render", params,
								sdktest.Options{Config: map[string]any{"warm_sessions": warm}, JobID: tk.job})
							if res.Status != sdktest.Completed {
								b.Errorf("job %s frame %d: %s: %s\n%s", tk.job, tk.frame, res.Status, res.Message, strings.Join(res.Lines, "\n"))
								return
							}
							switch m, _ := mode(res); m {
							case "new":
								started.Add(1)
							case "warm":
								reused.Add(1)
							}
						}
					}()
				}
				wg.Wait()
				wall += time.Since(start)
				b.StopTimer()
				pool.Close()
				b.StartTimer()
			}
			tasks := float64(b.N * len(order))
			b.ReportMetric(wall.Seconds()/float64(b.N), "wall-s")
			b.ReportMetric(wall.Seconds()/tasks, "s/task")
			b.ReportMetric(float64(started.Load())/tasks, "sessions/task")
			b.ReportMetric(float64(reused.Load())/tasks, "warm/task")
		})
	}
}
