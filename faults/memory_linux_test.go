package faults

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/cgroups"
	"github.com/cajonfarm/cajon/internal/managertest"
	"github.com/cajonfarm/cajon/internal/testwait"
	"github.com/cajonfarm/cajon/internal/workertest"
)

// testMemoryCgroupCrash: the real cajon with max_task_memory runs a task in
// a memory cgroup and is SIGKILLed; the cgroup it leaves is removed by the
// next cajon, which then runs a command over the cap in a cgroup of its own:
// the kernel kills it, the task fails naming the cap, its emptied cgroup is
// kept with no process in it, and nothing is left once cajon stops.
func testMemoryCgroupCrash(t *testing.T) {
	m, err := cgroups.Open(context.Background(), cgroups.SelfEnv())
	if err != nil {
		t.Skipf("no memory cgroup this process may manage, so max_task_memory is the watchdog's here: %v", err)
	}
	_ = m.Close()
	runs := filepath.Join(ownMemoryCgroup(t), "cajon-runs")

	mgr := managertest.New(t, managertest.Config{})
	id := oneTask(mgr, workertest.ShellTask("printer", `i=0; while [ $i -lt 40 ]; do echo "line $i"; i=$((i+1)); sleep 0.1; done`))
	env := append(cajonEnv(mgr, t.TempDir()), "CAJON_MAX_TASK_MEMORY="+strconv.Itoa(256<<20))

	first := startCajon(t, env, 0, "run")
	firstRuns := filepath.Join(runs, strconv.Itoa(first.cmd.Process.Pid))
	var runDir string
	testwait.Within(t, "the running command's cgroup", 30*time.Second, func() bool {
		runDir = firstDir(firstRuns)
		return runDir != ""
	})
	if out := first.out.String(); !strings.Contains(out, "memory cap: cgroup v") {
		t.Errorf("the worker's log does not say the cap is a cgroup's:\n%s", tail(out, 4000))
	}
	first.signal(t, syscall.SIGKILL)
	first.wait(t, 10*time.Second)
	checkNoDescendants(t, 15*time.Second)
	if _, err := os.Stat(runDir); err != nil {
		t.Fatalf("the killed worker's run cgroup %s: %v (the scenario needs it left)", runDir, err)
	}

	second := startCajon(t, env, 0, "run")
	waitTaskStatus(t, mgr, id, managertest.StatusCompleted, 60*time.Second)
	if _, err := os.Stat(firstRuns); !os.IsNotExist(err) {
		t.Errorf("the dead worker's runs %s are still there: %v", firstRuns, err)
	}
	if out := second.out.String(); !strings.Contains(out, "memory cap: removed 1 run cgroup(s) of worker processes that are gone") {
		t.Errorf("the worker's log does not say it removed the dead worker's cgroup:\n%s", tail(out, 4000))
	}
	hog := oneTask(mgr, workertest.ShellTask("hog", `perl -e '$n = 300 << 20; $x = "x" x $n; sleep 1000'`))
	ts := waitTaskStatus(t, mgr, hog, managertest.StatusFailed, 60*time.Second)
	if !strings.Contains(ts.Log, "killed by the out-of-memory killer (max_task_memory): peak ") || !strings.Contains(ts.Log, "limit 256.0 MiB") {
		t.Errorf("the hog's log does not name the cap:\n%s", ts.Log)
	}
	secondRuns := filepath.Join(runs, strconv.Itoa(second.cmd.Process.Pid))
	// An emptied cgroup is kept for the next command; none with a process.
	if dir := firstDir(secondRuns); dir != "" {
		if procs, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs")); len(procs) > 0 {
			t.Errorf("the hog's cgroup %s is kept with processes in it: %s", dir, procs)
		}
	}
	second.signal(t, syscall.SIGTERM)
	if code := second.wait(t, 30*time.Second); code != 0 {
		t.Errorf("cajon exited with %d after SIGTERM, want 0", code)
	}
	if _, err := os.Stat(secondRuns); !os.IsNotExist(err) {
		t.Errorf("%s is left after the worker stopped: %v", secondRuns, err)
	}
	mgr.CheckProtocol(t)
}

// ownMemoryCgroup is this process's memory cgroup directory.
func ownMemoryCgroup(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	ms, err := cgroups.ParseMemberships(raw)
	if err != nil {
		t.Fatal(err)
	}
	raw, err = os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	mounts, err := cgroups.ParseMountinfo(raw)
	if err != nil {
		t.Fatal(err)
	}
	loc, err := cgroups.Locate(ms, mounts)
	if err != nil {
		t.Fatal(err)
	}
	return loc.Dir
}

// firstDir is the first folder in dir (a run's cgroup), "" for none.
func firstDir(dir string) string {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() {
			return filepath.Join(dir, e.Name())
		}
	}
	return ""
}
