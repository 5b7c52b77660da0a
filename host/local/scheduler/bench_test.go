package scheduler

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/local/jobfile"
	"github.com/cajonfarm/cajon/host/local/jobstore"
	"github.com/cajonfarm/cajon/host/logstore"
	"github.com/cajonfarm/cajon/host/task"
)

// instantTasks completes every task at once: what is left to measure is the
// queue itself (claim, log file, progress, record the end, all in SQLite).
type instantTasks struct{}

func (instantTasks) Run(_ context.Context, t task.Task, rep task.Reporter) task.Outcome {
	rep.Progress(t.StepsTotal(), "")
	return task.Outcome{Status: task.Completed, StepsCompleted: t.StepsTotal()}
}

// benchJob is a job of n independent one-command echo tasks.
func benchJob(n int) *jobfile.Job {
	job := &jobfile.Job{Name: "bench", Priority: jobfile.DefaultPriority}
	for i := 0; i < n; i++ {
		job.Tasks = append(job.Tasks, jobfile.Task{Name: fmt.Sprintf("t%06d", i), Type: "misc",
			Commands: []jobfile.Command{{Name: "echo", Parameters: map[string]any{"message": "x"}}}})
	}
	return job
}

func benchQueue(b *testing.B, tasks task.Executor, slots, n int) {
	b.Helper()
	dir := b.TempDir()
	store, err := jobstore.Open(context.Background(), filepath.Join(dir, jobstore.DBFile))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	logs, err := logstore.Open(filepath.Join(dir, "logs"), logstore.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := store.Submit(context.Background(), benchJob(n), jobstore.Submission{}); err != nil {
		b.Fatal(err)
	}
	r := &Runner{Store: store, Logs: logs, Tasks: tasks, Slots: slots}
	b.ResetTimer()
	start := time.Now()
	sum, err := r.Run(context.Background(), true)
	took := time.Since(start)
	b.StopTimer()
	if err != nil || sum.Completed != n {
		b.Fatalf("ran %+v, %v", sum, err)
	}
	b.ReportMetric(float64(n)/took.Seconds(), "tasks/s")
}

// BenchmarkQueueZeroLengthTasks measures the local queue's own throughput:
// tasks that take no time, one job of b.N tasks.
func BenchmarkQueueZeroLengthTasks(b *testing.B) {
	for _, slots := range []int{1, 4} {
		b.Run(fmt.Sprintf("slots=%d", slots), func(b *testing.B) {
			benchQueue(b, instantTasks{}, slots, b.N)
		})
	}
}

// BenchmarkQueueEcho runs real echo commands through the exec plugin.
func BenchmarkQueueEcho(b *testing.B) {
	for _, slots := range []int{1, 4} {
		b.Run(fmt.Sprintf("slots=%d", slots), func(b *testing.B) {
			benchQueue(b, &task.Runner{Commands: testPlugins}, slots, b.N)
		})
	}
}
