//go:build unix

package realmanager

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/internal/proctest"
	"github.com/cajonfarm/cajon/internal/testwait"
	"github.com/cajonfarm/cajon/internal/wine"
)

// The Windows build under wine against the real Manager (Linux, loopback):
// part of the Windows lane, `make test-windows`; the tests skip without it
// (internal/wine) and without a Manager.

// wineCajon is one `cajon.exe run` under wine, working for a real Manager.
type wineCajon struct {
	tb     testing.TB
	Name   string
	mark   string
	out    *proctest.Output
	exited chan struct{}
	err    error
}

// startWineCajon runs `cajon.exe run` against m as worker name, with the
// quick back-off and 2 s kill grace of startCajon.
func startWineCajon(tb testing.TB, m *manager, name string) *wineCajon {
	tb.Helper()
	c := &wineCajon{tb: tb, Name: name, mark: fmt.Sprintf("%s-%d", name, time.Now().UnixNano()),
		out: &proctest.Output{}, exited: make(chan struct{})}
	cmd := wineEnv.Cajon(c.mark, "run", "--manager", m.URL, "--name", name,
		"--state-dir", wine.WinPath(tb.TempDir()), "--log-level", "debug")
	cmd.Env = append(cmd.Env,
		"CAJON_MANAGER_FETCH_BACKOFF_MAX=1s",
		"CAJON_MANAGER_ASLEEP_POLL_INTERVAL=1s",
		"CAJON_KILL_GRACE=2s",
	)
	cmd.Stdout, cmd.Stderr = c.out, c.out
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() { c.err = cmd.Wait(); close(c.exited) }()
	tb.Cleanup(func() {
		if c.running() {
			if pid, ok := c.pid(); ok {
				_ = wine.Interrupt(pid)
			}
			select {
			case <-c.exited:
			case <-time.After(30 * time.Second):
			}
		}
		// Nothing of a failed test outlives it.
		procs, _ := wineEnv.Processes(c.mark)
		for _, p := range procs {
			_ = wine.KillLinux(p.PID)
		}
		if tb.Failed() {
			tb.Logf("cajon.exe %s output:\n%s", name, tailString(c.out.String(), 12000))
		}
	})
	return c
}

// running reports whether `wine cajon.exe` has not exited yet.
func (c *wineCajon) running() bool {
	select {
	case <-c.exited:
		return false
	default:
		return true
	}
}

// pid is the Linux pid of cajon.exe.
func (c *wineCajon) pid() (int, bool) {
	for _, p := range c.named("cajon.exe") {
		return p.PID, true
	}
	return 0, false
}

// named lists the worker's processes whose program's name starts with prefix.
func (c *wineCajon) named(prefix string) []wine.Process {
	procs, err := wineEnv.Processes(c.mark)
	if err != nil {
		c.tb.Fatal(err)
	}
	var out []wine.Process
	for _, p := range procs {
		if strings.HasPrefix(p.Name(), prefix) {
			out = append(out, p)
		}
	}
	return out
}

// interrupt presses Ctrl+C on cajon.exe (wine turns SIGINT into
// CTRL_C_EVENT) and waits for it to exit; it returns the error of its exit.
func (c *wineCajon) interrupt(limit time.Duration) error {
	c.tb.Helper()
	var pid int
	testwait.For(c.tb, "cajon.exe to run", func() bool {
		var ok bool
		pid, ok = c.pid()
		return ok
	})
	if err := wine.Interrupt(pid); err != nil {
		c.tb.Fatal(err)
	}
	select {
	case <-c.exited:
		return c.err
	case <-time.After(limit):
		c.tb.Fatalf("cajon.exe %s did not exit within %s of Ctrl+C", c.Name, limit)
		return nil
	}
}

// winePingTree is the exec job's program and arguments for a tree of cmd
// with a background and a foreground ping, which would run for a quarter of
// an hour.
var winePingTree = []string{"cmd", "/c", "start /b ping -n 1000 127.0.0.1 >nul & ping -n 1000 127.0.0.1 >nul"}

// TestWineRun: cajon.exe under wine works the Manager's Echo Sleep Test job,
// a cancel of a task whose command started a tree, and signs off on Ctrl+C.
func TestWineRun(t *testing.T) {
	wineEnv.Require(t)
	m := startManager(t)
	c := startWineCajon(t, m, "cajon-wine")
	m.waitWorker(c.Name, "awake", 60*time.Second)

	job := m.submit("echo-sleep-test", "echo sleep under wine", map[string]any{
		"message": "hello from cajon.exe", "sleep_duration_seconds": 1, "sleep_repeats": 2,
	})
	m.waitJob(job, "completed", 2*time.Minute)
	for _, tk := range m.tasks(job) {
		if tk.Name == "echo" {
			if log := string(m.taskLog(tk.ID)); !strings.Contains(log, "hello from cajon.exe") {
				t.Errorf("the echo task's log on the Manager lacks the message:\n%s", log)
			}
		}
	}

	tree := execJob(m, "ping tree under wine", winePingTree[0], winePingTree[1:]...)
	testwait.Within(t, "both pings to run", 60*time.Second, func() bool { return len(c.named("ping")) == 2 })
	m.setJobStatus(tree, "cancel-requested", "test: cancel a tree under wine")
	m.waitJob(tree, "canceled", 60*time.Second)
	testwait.For(t, "the cancelled tree to be gone", func() bool {
		return len(c.named("ping"))+len(c.named("cmd")) == 0
	})
	if len(c.named("cajon-plugin-exec")) != 1 || !c.running() {
		t.Fatalf("the worker or its exec plugin did not outlive the cancel: %v", c.named(""))
	}

	if err := c.interrupt(60 * time.Second); err != nil {
		t.Errorf("cajon.exe after Ctrl+C: %v", err)
	}
	m.waitWorker(c.Name, "offline", 10*time.Second)
	testwait.For(t, "every process of the worker to be gone", func() bool { return len(c.named("")) == 0 })
}

// BenchmarkWineEchoSleep: the Manager's 21-task Echo Sleep Test job (an
// echo and 20 sleeps of 0 s) worked by Cajon on Linux and by cajon.exe under
// wine, one after the other on the same Manager; then the time from a
// cancel on the Manager to the first process of a task's tree gone, and to
// the whole tree gone, on both.
//
//	make test-windows-bench
func BenchmarkWineEchoSleep(b *testing.B) {
	wineEnv.Require(b)
	m := startManager(b)
	var linuxT, wineT, linuxFirst, linuxAll, wineFirst, wineAll time.Duration
	for i := 0; i < b.N; i++ {
		lc := startCajon(b, m, fmt.Sprintf("cajon-linux-%d", i), cajonOptions{})
		m.waitWorker(lc.Name, "awake", 60*time.Second)
		linuxT += timeEchoSleep(m, fmt.Sprintf("linux-%d", i))
		first, all := timeLinuxCancel(b, m, fmt.Sprintf("linux-cancel-%d", i))
		linuxFirst, linuxAll = linuxFirst+first, linuxAll+all
		stopCajon(b, lc)

		wc := startWineCajon(b, m, fmt.Sprintf("cajon-wine-%d", i))
		m.waitWorker(wc.Name, "awake", 60*time.Second)
		wineT += timeEchoSleep(m, fmt.Sprintf("wine-%d", i))
		first, all = timeWineCancel(b, m, wc, fmt.Sprintf("wine-cancel-%d", i))
		wineFirst, wineAll = wineFirst+first, wineAll+all
		if err := wc.interrupt(60 * time.Second); err != nil {
			b.Fatalf("cajon.exe after Ctrl+C: %v", err)
		}
	}
	n := float64(b.N)
	b.ReportMetric(linuxT.Seconds()/n, "linux-s")
	b.ReportMetric(wineT.Seconds()/n, "wine-s")
	b.ReportMetric(wineT.Seconds()/linuxT.Seconds(), "wine/linux")
	b.ReportMetric(linuxFirst.Seconds()/n, "linux-cancel-first-s")
	b.ReportMetric(linuxAll.Seconds()/n, "linux-cancel-all-s")
	b.ReportMetric(wineFirst.Seconds()/n, "wine-cancel-first-s")
	b.ReportMetric(wineAll.Seconds()/n, "wine-cancel-all-s")
}

// timeEchoSleep submits the 21-task Echo Sleep Test job and returns the time
// from its submission to its completion.
func timeEchoSleep(m *manager, name string) time.Duration {
	m.tb.Helper()
	start := time.Now()
	job := m.submit("echo-sleep-test", name, map[string]any{
		"message": "bench", "sleep_duration_seconds": 0, "sleep_repeats": 20,
	})
	m.waitJob(job, "completed", 5*time.Minute)
	return time.Since(start)
}

// timeCancel cancels job on the Manager once its tree runs (up says it
// does) and measures until the first of its processes is gone and until
// all are (left counts them).
func timeCancel(tb testing.TB, m *manager, job string, up func() bool, left func() int) (first, all time.Duration) {
	tb.Helper()
	testwait.Within(tb, "the tree to run", 60*time.Second, up)
	start := time.Now()
	n := left()
	m.setJobStatus(job, "cancel-requested", "bench: cancel to kill")
	// Polled without a pause: the figure is the time itself.
	deadline := start.Add(time.Minute)
	for time.Now().Before(deadline) {
		k := left()
		if k < n && first == 0 {
			first = time.Since(start)
		}
		if k == 0 {
			return first, time.Since(start)
		}
		time.Sleep(time.Millisecond)
	}
	tb.Fatalf("the tree of job %s outlived its cancel by a minute", job)
	return 0, 0
}

// timeLinuxCancel is timeCancel for a tree of sh with a background and a
// foreground sleep, on Linux.
func timeLinuxCancel(tb testing.TB, m *manager, name string) (first, all time.Duration) {
	dir := tb.TempDir()
	names := []string{"bg", "fg", "sh"}
	job := execJob(m, name, "/bin/sh", "-c",
		fmt.Sprintf("echo $$ > %[1]s/sh; sleep 1000 & echo $! > %[1]s/bg; sleep 1000 & echo $! > %[1]s/fg; wait", dir))
	var pids map[string]int
	up := func() bool { pids = proctest.ReadPidFiles(dir, names...); return len(pids) == len(names) }
	left := func() int {
		n := 0
		for _, pid := range pids {
			if proctest.Alive(pid) {
				n++
			}
		}
		return n
	}
	return timeCancel(tb, m, job, up, left)
}

// timeWineCancel is timeCancel for winePingTree under wine.
func timeWineCancel(tb testing.TB, m *manager, c *wineCajon, name string) (first, all time.Duration) {
	job := execJob(m, name, winePingTree[0], winePingTree[1:]...)
	left := func() int { return len(c.named("ping")) + len(c.named("cmd")) }
	return timeCancel(tb, m, job, func() bool { return len(c.named("ping")) == 2 }, left)
}
