//go:build unix

package scheduler

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/local/jobfile"
	"github.com/cajonfarm/cajon/host/local/jobstore"
	"github.com/cajonfarm/cajon/host/logstore"
)

// bigJobFile is a job file of n one-command tasks; every tenth task depends
// on the one before it.
func bigJobFile(n int) []byte {
	var b bytes.Buffer
	b.WriteString("name = \"big\"\npriority = 60\n")
	for i := range n {
		fmt.Fprintf(&b, "\n[[tasks]]\nname = \"frame-%06d\"\n", i)
		if i%10 == 9 {
			fmt.Fprintf(&b, "depends_on = [\"frame-%06d\"]\n", i-1)
		}
		fmt.Fprintf(&b, "  [[tasks.commands]]\n  name = \"echo\"\n  parameters = { message = \"frame %d\" }\n", i)
	}
	return b.Bytes()
}

// BenchmarkAcceptJob100k is what `cajon local submit` does with a job file
// of 100,000 tasks: parse and check it, check its commands against the
// plugins, and store it. Target: under 5 s.
func BenchmarkAcceptJob100k(b *testing.B) {
	const n = 100_000
	data := bigJobFile(n)
	cmds := registry(b)
	ctx := context.Background()
	var parse, validate, submit time.Duration
	var cpu time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		store, err := jobstore.Open(ctx, filepath.Join(b.TempDir(), jobstore.DBFile))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		c0 := cpuTime(b)
		t0 := time.Now()
		job, err := jobfile.ParseJob(ctx, "big.toml", data)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := job.Validate(ctx, "big.toml", cmds); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if _, err := store.Submit(ctx, job, jobstore.Submission{Source: "big.toml"}); err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		cpu += cpuTime(b) - c0
		b.StopTimer()
		store.Close()
		parse, validate, submit = parse+t1.Sub(t0), validate+t2.Sub(t1), submit+t3.Sub(t2)
		b.StartTimer()
	}
	per := func(d time.Duration) float64 { return d.Seconds() / float64(b.N) }
	b.ReportMetric(per(parse+validate+submit), "s/job")
	b.ReportMetric(per(parse), "parse-s/job")
	b.ReportMetric(per(validate), "validate-s/job")
	b.ReportMetric(per(submit), "store-s/job")
	b.ReportMetric(per(cpu), "cpu-s/job")
	b.ReportMetric(float64(len(data))/1e6, "file-MB")
}

// cpuTime is the CPU time this process has used, user and system: on a
// shared machine it says more of the cost than the wall clock.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkQueueIn100kJob runs b.N zero-length tasks of a job of 100,000:
// the cost of claiming and recording a task must not grow with its job.
func BenchmarkQueueIn100kJob(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	store, err := jobstore.Open(ctx, filepath.Join(dir, jobstore.DBFile))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	logs, err := logstore.Open(filepath.Join(dir, "logs"), logstore.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	job, err := jobfile.ParseJob(ctx, "big.toml", bigJobFile(100_000))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := store.Submit(ctx, job, jobstore.Submission{}); err != nil {
		b.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	r := &Runner{Store: store, Logs: logs, Tasks: instantTasks{}}
	recorded := 0
	r.record = func(ctx context.Context, c jobstore.Claim, e jobstore.Ending) (*jobstore.JobEnd, error) {
		end, err := store.FinishTask(ctx, c, e)
		if recorded++; recorded == b.N {
			stop()
		}
		return end, err
	}
	b.ResetTimer()
	start := time.Now()
	if _, err := r.Run(runCtx, false); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(recorded)/time.Since(start).Seconds(), "tasks/s")
}
