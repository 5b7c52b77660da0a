package faults

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cajonfarm/cajon/host/plugins"
	"github.com/cajonfarm/cajon/host/worker"
	"github.com/cajonfarm/cajon/internal/managertest"
	"github.com/cajonfarm/cajon/internal/proctest"
	"github.com/cajonfarm/cajon/internal/testwait"
	"github.com/cajonfarm/cajon/internal/workertest"
)

func testPluginCrash(t *testing.T) {
	mgr := managertest.New(t, managertest.Config{FailAfter: 1})
	reg := openRegistry(t, nil, 0)
	workertest.Start(t, workerConfig(t, mgr), reg, workertest.FastTimings(), nil)

	warm := oneTask(mgr, workertest.CommandTask("warm-up", "test", "test-steps", nil))
	waitTaskStatus(t, mgr, warm, managertest.StatusCompleted, 30*time.Second)
	before := pluginPID(reg, "testkit")

	crash := oneTask(mgr, workertest.CommandTask("crash", "test", "test-crash", map[string]any{"after_seconds": 0.3}))
	ts := waitTaskStatus(t, mgr, crash, managertest.StatusFailed, 30*time.Second)
	checkStatuses(t, ts, false, managertest.StatusActive, managertest.StatusFailed)
	for _, want := range []string{`plugin "testkit"`, "crashed while running command \"test-crash\""} {
		if !strings.Contains(ts.Activity, want) || !strings.Contains(ts.Log, want) {
			t.Errorf("the failure does not say %q: activity %q, log:\n%s", want, ts.Activity, ts.Log)
		}
	}
	if !strings.Contains(ts.Log, "about to crash\n") {
		t.Errorf("the log before the crash is lost:\n%s", ts.Log)
	}
	if before != 0 && proctest.Alive(before) {
		t.Errorf("the crashed plugin (pid %d) is still alive", before)
	}

	after := oneTask(mgr, workertest.CommandTask("after-crash", "test", "test-steps", nil))
	checkStatuses(t, waitTaskStatus(t, mgr, after, managertest.StatusCompleted, 30*time.Second), false,
		managertest.StatusActive, managertest.StatusCompleted)
	if now := pluginPID(reg, "testkit"); now == 0 || now == before {
		t.Errorf("testkit pid %d before the crash, %d after: want a new process", before, now)
	}
	mgr.CheckProtocol(t)
}

func testPluginHang(t *testing.T) {
	mgr := managertest.New(t, managertest.Config{})
	reg := openRegistry(t, nil, 0)
	cfg := workerConfig(t, mgr)
	cfg.KillGrace = 200 * time.Millisecond // the host gives up after plugins.AbortDeadline
	r := workertest.Start(t, cfg, reg, workertest.FastTimings(), nil)

	job := mgr.AddJob(managertest.Job{Tasks: []managertest.Task{workertest.CommandTask("hang", "test", "test-hang", nil)}})
	id := job.Tasks[0].ID
	testwait.Within(t, "the command to hang", 30*time.Second, func() bool {
		return strings.Contains(mgr.MustTask(t, id).Log, "hanging\n")
	})
	hung := pluginPID(reg, "testkit")
	if hung == 0 {
		t.Fatal("no testkit plugin process while it runs a command")
	}
	if err := mgr.CancelJob(job.ID); err != nil {
		t.Fatal(err)
	}
	// Bound on a hang of the worker, well above plugins.AbortDeadline.
	testwait.Within(t, "the worker to drop the task", 30*time.Second, func() bool { return r.Status().TaskID == "" })
	checkGone(t, "the hung plugin", map[string]int{"testkit": hung}, 5*time.Second)

	ts := mgr.MustTask(t, id)
	checkStatuses(t, ts, false, managertest.StatusActive)
	full, err := os.ReadFile(filepath.Join(worker.LogDir(cfg.StateDir), job.ID, id+".log"))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf(`plugin "testkit" did not finish aborting command "test-hang" within %s`, plugins.AbortDeadline(cfg.KillGrace)); !strings.Contains(string(full), want) {
		t.Errorf("the task's full log does not say %q:\n%s", want, full)
	}

	next := oneTask(mgr, workertest.CommandTask("after-hang", "test", "test-steps", nil))
	waitTaskStatus(t, mgr, next, managertest.StatusCompleted, 30*time.Second)
	mgr.CheckProtocol(t)
}

func testPluginGarbage(t *testing.T) {
	mgr := managertest.New(t, managertest.Config{})
	reg := openRegistry(t, nil, 0)
	workertest.Start(t, workerConfig(t, mgr), reg, workertest.FastTimings(), nil)

	warm := oneTask(mgr, workertest.CommandTask("warm-up", "test", "test-steps", nil))
	waitTaskStatus(t, mgr, warm, managertest.StatusCompleted, 30*time.Second)
	pid := pluginPID(reg, "testkit")

	id := oneTask(mgr, workertest.CommandTask("garbage", "test", "test-garbage", nil))
	ts := waitTaskStatus(t, mgr, id, managertest.StatusCompleted, 30*time.Second)
	checkStatuses(t, ts, false, managertest.StatusActive, managertest.StatusCompleted)
	if !utf8.ValidString(ts.Log) || !utf8.ValidString(ts.Activity) {
		t.Errorf("the Manager got invalid UTF-8")
	}
	for _, want := range []string{"before garbage\n", "nul:\x00:\uFFFD:end\n", "log:\uFFFD\x00:", "after garbage\n"} {
		if !strings.Contains(ts.Log, want) {
			t.Errorf("the log lacks %q", want)
		}
	}
	if now := pluginPID(reg, "testkit"); now != pid {
		t.Errorf("testkit pid %d before, %d after: the plugin was restarted", pid, now)
	}
	mgr.CheckProtocol(t)
}

func testPlugin100MBLine(t *testing.T) {
	mgr := managertest.New(t, managertest.Config{})
	reg := openRegistry(t, nil, 0)
	cfg := workerConfig(t, mgr)
	cfg.MaxLogBytes = 1 << 20
	workertest.Start(t, cfg, reg, workertest.FastTimings(), nil)
	warm := oneTask(mgr, workertest.CommandTask("warm-up", "test", "test-steps", nil))
	waitTaskStatus(t, mgr, warm, managertest.StatusCompleted, 30*time.Second)

	// A small GC target: the peak then shows what the host keeps, not how
	// lazily the collector returns what it dropped.
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	const size = 100 << 20
	for _, via := range []string{"child", "log"} {
		debug.FreeOSMemory() // the base is what the host keeps, not garbage of the last step
		resetPeakRSS(t)
		base := memStatus(t, "VmRSS")
		id := oneTask(mgr, workertest.CommandTask("line-via-"+via, "test", "test-longline", map[string]any{"bytes": size, "via": via}))
		ts := waitTaskStatus(t, mgr, id, managertest.StatusCompleted, 120*time.Second)
		growth := memStatus(t, "VmHWM") - base
		t.Logf("via %s: host peak RSS grew %d MiB while 100 MiB went through; the Manager got %d bytes of log", via, growth>>20, len(ts.Log))

		checkStatuses(t, ts, false, managertest.StatusActive, managertest.StatusCompleted)
		// The limit counts each line's bytes plus its newline; the marker
		// line says how much was left out.
		marker := ""
		for _, l := range strings.Split(ts.Log, "\n") {
			if strings.Contains(l, "left out") {
				marker = l
			}
		}
		if marker == "" {
			t.Errorf("via %s: no truncation marker in the Manager's log", via)
		}
		if limit := int(cfg.MaxLogBytes) + len(marker) + 1; len(ts.Log) > limit {
			t.Errorf("via %s: the Manager got %d bytes of log, want at most max_log_bytes + marker = %d", via, len(ts.Log), limit)
		}
		// The command's last line, before the host's line with its peak
		// memory (the node guard), closes the log.
		tail := ts.Log
		if i := strings.LastIndex(tail, "cajon: peak memory of the command's processes: "); i >= 0 {
			tail = tail[:i]
		}
		if !strings.HasPrefix(ts.Log, "cajon: command 1/1") || !strings.Contains(ts.Log, "long line starts\n") || !strings.HasSuffix(tail, "long line ended\n") {
			t.Errorf("via %s: the head or the tail of the log is missing", via)
		}
		// Far below the line's size: the race detector's shadow memory and
		// the garbage collector's headroom are in this figure too.
		if growth > 40<<20 {
			t.Errorf("via %s: host peak RSS grew %d MiB for a 100 MiB line, want under 40 MiB: memory must not follow the line's size", via, growth>>20)
		}
	}
	mgr.CheckProtocol(t)
}

// brokenPlugin runs the shared part of plugin-missing and
// plugin-not-executable: break the testkit binary with breakIt, check that a
// testkit task fails with a message containing want while an exec task
// completes, repair it, and check testkit works again.
func brokenPlugin(t *testing.T, idle time.Duration, breakIt, repair func(bin string), want string) {
	mgr := managertest.New(t, managertest.Config{FailAfter: 1})
	dir := privatePlugins(t)
	bin := filepath.Join(dir, "cajon-plugin-testkit")
	reg := openRegistry(t, nil, idle, dir)
	workertest.Start(t, workerConfig(t, mgr), reg, workertest.FastTimings(), nil)

	warm := oneTask(mgr, workertest.CommandTask("warm-up", "test", "test-steps", nil))
	waitTaskStatus(t, mgr, warm, managertest.StatusCompleted, 30*time.Second)
	if idle > 0 {
		testwait.Within(t, "the idle testkit plugin to stop", 30*time.Second, func() bool { return pluginPID(reg, "testkit") == 0 })
	}
	breakIt(bin)

	broken := oneTask(mgr, workertest.CommandTask("broken", "test", "test-steps", nil))
	ts := waitTaskStatus(t, mgr, broken, managertest.StatusFailed, 30*time.Second)
	checkStatuses(t, ts, false, managertest.StatusActive, managertest.StatusFailed)
	if !strings.Contains(ts.Log, want) || !strings.Contains(ts.Log, bin) {
		t.Errorf("the task's log does not say %q and name %s:\n%s", want, bin, ts.Log)
	}

	other := oneTask(mgr, workertest.CommandTask("other-plugin", "misc", "echo", map[string]any{"message": "still working"}))
	checkStatuses(t, waitTaskStatus(t, mgr, other, managertest.StatusCompleted, 30*time.Second), false,
		managertest.StatusActive, managertest.StatusCompleted)

	repair(bin)
	again := oneTask(mgr, workertest.CommandTask("repaired", "test", "test-steps", nil))
	checkStatuses(t, waitTaskStatus(t, mgr, again, managertest.StatusCompleted, 30*time.Second), false,
		managertest.StatusActive, managertest.StatusCompleted)
	mgr.CheckProtocol(t)
}

func testPluginMissing(t *testing.T) {
	brokenPlugin(t, 0,
		func(bin string) {
			if err := os.Remove(bin); err != nil {
				t.Fatal(err)
			}
		},
		func(bin string) { copyFile(t, filepath.Join(binDir, "plugins", "cajon-plugin-testkit"), bin) },
		"is gone")
}

func testPluginNotExecutable(t *testing.T) {
	brokenPlugin(t, 200*time.Millisecond,
		func(bin string) {
			if err := os.Chmod(bin, 0o644); err != nil {
				t.Fatal(err)
			}
		},
		func(bin string) {
			if err := os.Chmod(bin, 0o755); err != nil {
				t.Fatal(err)
			}
		},
		"permission denied")
}
