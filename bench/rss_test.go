package bench

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/internal/testbin"
)

// treeRSS sums VmRSS over pid and all its descendants, in MB.
func treeRSS(pid int) float64 {
	total := float64(0)
	pids := []int{pid}
	for len(pids) > 0 {
		p := pids[0]
		pids = pids[1:]
		if kb, err := statusKB(strconv.Itoa(p), "VmRSS"); err == nil {
			total += float64(kb) / 1024
		}
		// Each thread lists the children it forked.
		threads, _ := filepath.Glob("/proc/" + strconv.Itoa(p) + "/task/*/children")
		for _, t := range threads {
			children, _ := os.ReadFile(t)
			for _, f := range strings.Fields(string(children)) {
				if c, err := strconv.Atoi(f); err == nil {
					pids = append(pids, c)
				}
			}
		}
	}
	return total
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
		env := append(os.Environ(), "CAJON_STATE_DIR="+state, "CAJON_PLUGIN_IDLE_TIMEOUT=1s", "CAJON_LOG_LEVEL=warn")
		start := func() *exec.Cmd {
			host := exec.Command(filepath.Join(dir, "cajon"), "local", "run", "--plain")
			host.Env = env
			if err := host.Start(); err != nil {
				b.Fatal(err)
			}
			time.Sleep(500 * time.Millisecond) // up, plugins not yet idle
			return host
		}
		// The very first start describes every plugin (they start, then idle
		// out); later starts know them from the cache and start none.
		host := start()
		first = max(first, treeRSS(host.Process.Pid))
		_ = host.Process.Signal(syscall.SIGTERM)
		_ = host.Wait()
		host = start()
		warm = max(warm, treeRSS(host.Process.Pid))
		submit := exec.Command(filepath.Join(dir, "cajon"), "local", "submit", job)
		submit.Env = env
		if out, err := submit.CombinedOutput(); err != nil {
			b.Fatalf("submit: %v\n%s", err, out)
		}
		for t := 0; t < 15; t++ {
			time.Sleep(100 * time.Millisecond)
			running = max(running, treeRSS(host.Process.Pid))
		}
		time.Sleep(3 * time.Second) // the task ends, then the idle timeout passes
		idle = max(idle, treeRSS(host.Process.Pid))
		_ = host.Process.Signal(syscall.SIGTERM)
		_ = host.Wait()
	}
	b.ReportMetric(first, "first-start-MB")
	b.ReportMetric(warm, "start-MB")
	b.ReportMetric(running, "running-MB")
	b.ReportMetric(idle, "idle-MB")
}
