package bench

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/cajonfarm/cajon/internal/proctest"
	"github.com/cajonfarm/cajon/internal/testbin"
	"github.com/cajonfarm/cajon/internal/testwait"
)

// tree lists pid and all its descendants.
func tree(pid int) []int {
	all := []int{pid}
	for i := 0; i < len(all); i++ {
		// Each thread lists the children it forked.
		threads, _ := filepath.Glob("/proc/" + strconv.Itoa(all[i]) + "/task/*/children")
		for _, t := range threads {
			children, _ := os.ReadFile(t)
			for _, f := range strings.Fields(string(children)) {
				if c, err := strconv.Atoi(f); err == nil {
					all = append(all, c)
				}
			}
		}
	}
	return all
}

// treeRSS sums VmRSS over pid and all its descendants, in MB.
func treeRSS(pid int) float64 {
	total := float64(0)
	for _, p := range tree(pid) {
		if kb, err := statusKB(strconv.Itoa(p), "VmRSS"); err == nil {
			total += float64(kb) / 1024
		}
	}
	return total
}

// peakRSS samples treeRSS of pid until done holds and returns the highest.
func peakRSS(b *testing.B, pid int, what string, done func() bool) float64 {
	b.Helper()
	peak := 0.0
	testwait.For(b, what, func() bool {
		peak = max(peak, treeRSS(pid))
		return done()
	})
	return peak
}

// BenchmarkHostRSS runs the real `cajon local run` with the four shipped
// plugins and samples the resident memory of the host and all its plugins:
// right after the first start on a machine (every plugin starts to describe
// itself), after a later start, while a task runs, and once the plugins were
// stopped by their idle timeout.
func BenchmarkHostRSS(b *testing.B) {
	dir := b.TempDir()
	if err := testbin.Build(dir, "exec", "blender", "ffmpeg", "files"); err != nil {
		b.Fatal(err)
	}
	job := filepath.Join(dir, "job.toml")
	if err := os.WriteFile(job, []byte(`name = "rss"
[[tasks]]
name = "work"
  [[tasks.commands]]
  name = "exec"
  [tasks.commands.parameters]
  script = "#!/bin/sh\nfor i in 1 2 3 4 5 6 7 8 9 10; do echo line $i; sleep 0.2; done"
`), 0o644); err != nil {
		b.Fatal(err)
	}
	var first, warm, running, idle float64
	for i := 0; i < b.N; i++ {
		state := filepath.Join(dir, "state-"+strconv.Itoa(i))
		env := append(os.Environ(), "CAJON_STATE_DIR="+state, "CAJON_PLUGIN_IDLE_TIMEOUT=1s", "CAJON_LOG_LEVEL=info")
		start := func() (*exec.Cmd, *proctest.Output) {
			host := exec.Command(filepath.Join(dir, "cajon"), "local", "run", "--plain")
			host.Env = env
			out := &proctest.Output{}
			host.Stdout, host.Stderr = out, out
			if err := host.Start(); err != nil {
				b.Fatal(err)
			}
			return host, out
		}
		says := func(out *proctest.Output, line string) func() bool {
			return func() bool { return strings.Contains(out.String(), line) }
		}
		const up = "working the local queue" // said after the plugins were described
		// The very first start describes every plugin (they start, then idle
		// out); later starts know them from the cache and start none.
		host, out := start()
		first = max(first, peakRSS(b, host.Process.Pid, "the first start to be up", says(out, up)))
		_ = host.Process.Signal(syscall.SIGTERM)
		_ = host.Wait()
		host, out = start()
		testwait.For(b, "the second start to be up", says(out, up))
		warm = max(warm, treeRSS(host.Process.Pid))
		submit := exec.Command(filepath.Join(dir, "cajon"), "local", "submit", job)
		submit.Env = env
		if out, err := submit.CombinedOutput(); err != nil {
			b.Fatalf("submit: %v\n%s", err, out)
		}
		running = max(running, peakRSS(b, host.Process.Pid, "the task to complete", says(out, "task completed")))
		testwait.For(b, "the plugins to stop after their idle timeout", func() bool { return len(tree(host.Process.Pid)) == 1 })
		idle = max(idle, treeRSS(host.Process.Pid))
		_ = host.Process.Signal(syscall.SIGTERM)
		_ = host.Wait()
	}
	b.ReportMetric(first, "first-start-MB")
	b.ReportMetric(warm, "start-MB")
	b.ReportMetric(running, "running-MB")
	b.ReportMetric(idle, "idle-MB")
}
