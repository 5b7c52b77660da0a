package e2e

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/worker"
	"github.com/cajonfarm/cajon/internal/managertest"
)

// The measured job: Flamenco's reference case, 10 frames, one per task.
const benchFrames, benchChunk = 10, 1

// BenchmarkRenderJobOverhead compares a Simple Blender Render job of 10
// frames in chunks of 1 run end to end by Cajon against the same work run
// bare.
//
// Bare: the 10 Blender command lines the blender plugin runs (one per task,
// exactly as the tests check it runs them) and the FFmpeg command line of the
// ffmpeg plugin with the same frame list, one after the other with
// exec.Command. Cajon: the job added to the fake Manager, from AddJob until
// the Manager has the job completed, with a worker in its default
// configuration and timings (the real update queue with fsync, may-i-run
// every second, preview uploads). The worker is started fresh for each
// iteration and the job is added right after its first empty fetch, so the
// time includes picking the job up (at most the first fetch backoff, 0.5 s)
// but not an idle worker's long poll (fetch_backoff_max).
//
// Iterations alternate which of the two runs first. Metrics: bare-s and
// cajon-s (seconds per job), x-bare (cajon-s / bare-s; the target is at most
// 1.5), pickup-s (from AddJob to the first task handed out). ns/op is the
// Cajon run alone. Blender's run time varies on a busy machine: run several
// iterations (-benchtime 4x).
func BenchmarkRenderJobOverhead(b *testing.B) {
	tl := needTools(b)
	isolateTemp(b)
	scene := makeScene(b, tl.blender, b.TempDir()) // also warms the file cache for Blender
	var bare, cajon, pickup time.Duration
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		dir := b.TempDir()
		bareRender := testRender(b, scene, filepath.Join(dir, "bare"), benchFrames, benchChunk)
		bareJob := mustJob(b, bareRender, "bare")
		// The machine may be shared: alternate which run goes first, so that
		// a slow or fast phase of it does not always favour the same one.
		if i%2 == 0 {
			bare += runBare(b, tl, bareJob)
		}

		render := testRender(b, scene, filepath.Join(dir, "cajon"), benchFrames, benchChunk)
		job := mustJob(b, render, fmt.Sprintf("cajon-%d", i))
		mgr, err := managertest.Start(managertest.Config{})
		if err != nil {
			b.Fatal(err)
		}
		w := startWorker(b, workerConfig(b, mgr), worker.Timings{})
		waitFirstEmptyFetch(b, mgr)

		b.StartTimer()
		start := time.Now()
		added := mgr.AddJob(job.ManagerJob())
		first := added.Tasks[0].ID
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		var picked time.Duration
		err = mgr.WaitFor(ctx, func() bool {
			if picked == 0 {
				if ts, _ := mgr.Task(first); ts.Assignments > 0 {
					picked = time.Since(start)
				}
			}
			js, _ := mgr.Job(added.ID)
			return js.Status != managertest.StatusQueued && js.Status != managertest.StatusActive
		})
		took := time.Since(start)
		b.StopTimer()
		cancel()
		if err != nil {
			b.Fatalf("the job did not end: %v", err)
		}
		if js, _ := mgr.Job(added.ID); js.Status != managertest.StatusCompleted {
			b.Fatalf("job %s, want completed; worker log:\n%s", js.Status, w.Log.String())
		}
		if errs := mgr.ProtocolErrors(); len(errs) > 0 {
			b.Fatalf("protocol errors: %q", errs)
		}
		w.stop()
		mgr.Close()
		cajon += took
		pickup += picked
		if i%2 == 1 {
			bare += runBare(b, tl, bareJob)
		}
		b.StartTimer()
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(bare.Seconds()/n, "bare-s")
	b.ReportMetric(cajon.Seconds()/n, "cajon-s")
	b.ReportMetric(cajon.Seconds()/bare.Seconds(), "x-bare")
	b.ReportMetric(pickup.Seconds()/n, "pickup-s")
}

// runBare runs the job's commands as the plugins would, one after the
// other, and returns the time they took. Blender's frames are a numbered
// sequence, which the plugin has FFmpeg read in place.
func runBare(b *testing.B, tl tools, job Job) time.Duration {
	b.Helper()
	start := time.Now()
	for _, t := range job.Tasks {
		for _, c := range t.Commands {
			var argv []string
			switch c.Name {
			case "blender-render":
				argv = blenderArgv(tl.blender, c)
			case "frames-to-video":
				var err error
				if argv, err = ffmpegArgv(tl.ffmpeg, c); err != nil {
					b.Fatal(err)
				}
			default:
				b.Fatalf("no bare command line for command %s", c.Name)
			}
			cmd := exec.Command(argv[0], argv[1:]...)
			// Read the output, as the plugins do, and throw it away.
			cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
			if err := cmd.Run(); err != nil {
				b.Fatalf("bare %q: %v", argv, err)
			}
		}
	}
	return time.Since(start)
}

// waitFirstEmptyFetch waits until mgr has answered a task fetch with 204:
// the worker is awake and polling, at its shortest backoff.
func waitFirstEmptyFetch(b *testing.B, mgr *managertest.Manager) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := mgr.WaitFor(ctx, func() bool {
		for _, r := range mgr.Requests() {
			if r.Op == managertest.OpScheduleTask && r.Status == 204 {
				return true
			}
		}
		return false
	})
	if err != nil {
		b.Fatalf("the worker made no task fetch: %v", err)
	}
}
