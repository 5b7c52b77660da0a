package worker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/config"
	"github.com/cajonfarm/cajon/host/updates"
	"github.com/cajonfarm/cajon/host/worker"
	"github.com/cajonfarm/cajon/internal/managertest"
	"github.com/cajonfarm/cajon/internal/workertest"
)

// benchConfig is the default configuration (default intervals, real fsyncs
// in a state directory on disk) pointed at mgr.
func benchConfig(b *testing.B, mgr *managertest.Manager) *config.Config {
	return workertest.Config(b, mgr, "bench")
}

// startBenchWorker runs a worker with default timings and waits until it is awake.
func startBenchWorker(b *testing.B, mgr *managertest.Manager, cfg *config.Config) *workertest.Worker {
	r := workertest.Start(b, cfg, openPlugins(b), worker.Timings{}, nil)
	waitFor(b, "the worker to be awake", awake(mgr))
	return r
}

// BenchmarkTaskOverhead runs zero-length tasks (sleep 0) back to back
// through the whole stack: fetch, plugin RPC, queued updates with fsync,
// delivery before the next fetch. ms/task is the per-task overhead.
func BenchmarkTaskOverhead(b *testing.B) {
	mgr := managertest.New(b, managertest.Config{})
	r := startBenchWorker(b, mgr, benchConfig(b, mgr))
	tasks := make([]managertest.Task, b.N)
	for i := range tasks {
		tasks[i] = sleepTask(fmt.Sprintf("zero-%d", i), 0)
	}
	b.ResetTimer()
	job := mgr.AddJob(managertest.Job{Tasks: tasks})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := mgr.WaitFor(ctx, func() bool {
		j, _ := mgr.Job(job.ID)
		return j.Status == managertest.StatusCompleted
	}); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/task")
	r.Stop()
}

// BenchmarkBacklogAfterOutage queues 10,000 updates of a running task while
// the Manager is down, brings the Manager back and measures until the queue
// is empty. The time includes the sender's backoff wait (at most
// Timings.UpdatesMaxBackoff, 5 s) before it tries again.
func BenchmarkBacklogAfterOutage(b *testing.B) {
	const backlog = 10_000
	mgr := managertest.New(b, managertest.Config{})
	r := startBenchWorker(b, mgr, benchConfig(b, mgr))
	job := mgr.AddJob(managertest.Job{Tasks: []managertest.Task{sleepTask("long", 3600)}})
	id := job.Tasks[0].ID
	waitFor(b, "the task to run", func() bool { return r.Status().TaskID == id })
	waitFor(b, "the start to be delivered", func() bool { return r.Queue().Pending() == 0 })
	var total time.Duration
	requests := 0
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		if err := mgr.SetFault(managertest.Fault{Down: true}); err != nil {
			b.Fatal(err)
		}
		for i := range backlog {
			steps := i
			u := updates.Update{TaskID: id, Activity: fmt.Sprintf("Rendering frame %d", i),
				Log: fmt.Sprintf("Fra:%d Mem:512M | Time:00:03.21 | Rendering 64 / 128 samples", i), StepsCompleted: &steps}
			if err := r.Queue().Append(context.Background(), u); err != nil {
				b.Fatal(err)
			}
		}
		before := mgr.RequestCount(managertest.OpTaskUpdate, id)
		b.StartTimer()
		start := time.Now()
		if err := mgr.ClearFaults(); err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := r.Queue().WaitNotOver(ctx, 0)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
		b.StopTimer()
		requests += mgr.RequestCount(managertest.OpTaskUpdate, id) - before
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/backlog")
	b.ReportMetric(float64(requests)/float64(b.N), "requests/backlog")
	r.Stop()
}
