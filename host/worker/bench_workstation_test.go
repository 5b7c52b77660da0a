package worker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/config"
	"github.com/cajonfarm/cajon/host/task"
	"github.com/cajonfarm/cajon/host/worker"
	"github.com/cajonfarm/cajon/host/workstation"
	"github.com/cajonfarm/cajon/internal/managertest"
	"github.com/cajonfarm/cajon/internal/workertest"
	"github.com/cajonfarm/cajon/internal/xvfbtest"
)

// benchIdleBeforeWork is short so that the benchmark runs in seconds; the
// poll is the default (2 s), whose phase decides the spread.
const benchIdleBeforeWork = 3 * time.Second

// BenchmarkWorkstation watches a real Xvfb display with the X11 detector
// and gives it input with xdotool, against the fake Manager with default
// worker timings:
//   - start-ms: from the last pointer move to the task started
//     (idle_before_work + up to a poll + sign-on + fetch);
//   - requeue: from the first move while a task runs to the task aborted;
//   - finish: from the first move to the end of a 1 s task started with it.
func BenchmarkWorkstation(b *testing.B) {
	for _, mode := range []string{config.OnActivityRequeue, config.OnActivityFinish} {
		b.Run(mode, func(b *testing.B) { benchWorkstation(b, mode) })
	}
}

func benchWorkstation(b *testing.B, mode string) {
	disp := xvfbtest.Start(b)
	mgr := managertest.New(b, managertest.Config{})
	cfg := benchConfig(b, mgr)
	cfg.Workstation.X11Displays = []string{disp.Name}
	cfg.Workstation.IdleBeforeWork = benchIdleBeforeWork
	cfg.Workstation.OnActivity = mode
	ws, err := workstation.NewWatcher(workstation.Options{
		Detectors: []workstation.Detector{workstation.NewX11(disp.Name)}, IdleBeforeWork: benchIdleBeforeWork, Poll: cfg.Workstation.PollInterval,
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); ws.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done })
	reg := openPlugins(b)
	r := workertest.StartOptions(b, worker.Options{
		Config: cfg, Runner: &task.Runner{Commands: reg, Grace: cfg.KillGrace}, Plugins: reg, Workstation: ws,
	}, nil)

	seconds := 600.0 // requeue: the same task comes back each round
	if mode == config.OnActivityFinish {
		seconds = 1
	}
	var toStart, toEnd time.Duration
	b.ResetTimer()
	for i := range b.N {
		job := mgr.AddJob(managertest.Job{Tasks: []managertest.Task{sleepTask(fmt.Sprintf("t%d", i), seconds)}})
		id := job.Tasks[0].ID
		// The person leaves: this move is the last input.
		disp.MovePointer(b, 10+i, 10)
		left := time.Now()
		until(b, func() bool { return r.Status().TaskID == id })
		toStart += time.Since(left)
		// The person comes back.
		disp.MovePointer(b, 100, 100+i)
		back := time.Now()
		until(b, func() bool { return r.Status().TaskID == "" })
		toEnd += time.Since(back)
		waitFor(b, "the worker to sign off", func() bool { return r.Status().State == worker.StateInUse })
		if mode == config.OnActivityRequeue {
			if err := mgr.CancelJob(job.ID); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(toStart.Milliseconds())/float64(b.N), "start-ms")
	b.ReportMetric(float64(toEnd.Milliseconds())/float64(b.N), "end-ms")
}

// until polls cond every millisecond, for a measurement finer than
// waitFor's; a minute bounds a hung benchmark.
func until(b *testing.B, cond func() bool) {
	b.Helper()
	for start := time.Now(); !cond(); time.Sleep(time.Millisecond) {
		if time.Since(start) > time.Minute {
			b.Fatal("condition not reached within a minute")
		}
	}
}
