package plugins_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/host/cgroups"
	"github.com/cajonfarm/cajon/host/plugins"
)

// runsOfThisProcess is the folder of this process's run cgroups
// (<own memory cgroup>/cajon-runs/<pid>), or skips the test when there is no
// memory cgroup it may manage.
func runsOfThisProcess(t *testing.T) string {
	t.Helper()
	m, err := cgroups.Open(context.Background(), cgroups.SelfEnv())
	if err != nil {
		t.Skipf("no memory cgroup this test may manage, so max_task_memory is the watchdog's here: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile("/proc/self/cgroup")
	ms, _ := cgroups.ParseMemberships(raw)
	raw, _ = os.ReadFile("/proc/self/mountinfo")
	mounts, _ := cgroups.ParseMountinfo(raw)
	loc, err := cgroups.Locate(ms, mounts)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(loc.Dir, "cajon-runs", strconv.Itoa(os.Getpid()))
}

// cgroupsLeft are the run cgroups in dir; a cgroup with a process in it
// fails the test: only empty ones are kept for the next runs.
func cgroupsLeft(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var left []string
	for _, e := range entries {
		if !e.IsDir() {
			continue // the cgroup's own files
		}
		cg := filepath.Join(dir, e.Name())
		left = append(left, cg)
		if procs, _ := os.ReadFile(filepath.Join(cg, "cgroup.procs")); len(procs) > 0 {
			t.Errorf("cgroup %s kept with processes in it: %s", cg, procs)
		}
	}
	return left
}

// With memory cgroups, a command over max_task_memory is killed by the
// kernel inside its own cgroup, and fails as the watchdog's kill does,
// naming the peak (the cgroup's, so at most the limit) and the limit. The
// next command, with another limit, reuses the emptied cgroup and is told
// its own peak, not the killed one's, and completes. After the registry
// closes, no cgroup is left, nor the folder of this process's runs.
func TestCgroupCapIsTheKernels(t *testing.T) {
	runs := runsOfThisProcess(t)
	var obs eventLog
	reg, err := plugins.Open(context.Background(), plugins.Options{
		Dirs: []string{filepath.Join(binDir, "plugins")}, MemoryCgroups: true, Observer: &obs,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := req("test-tree", map[string]any{"script": `perl -e '$x = "x" x (300 << 20); print "allocated\n"; sleep 1000'`})
	r.Guard = plugins.Guard{MaxMemory: 64 << 20}
	var c collector
	res := reg.Run(context.Background(), r, &c)
	t.Logf("%v: %s", res.Status, res.Message)
	if res.Status != plugins.Failed || !strings.HasPrefix(res.Message, "killed by the out-of-memory killer (max_task_memory): peak ") || !strings.Contains(res.Message, "limit 64.0 MiB") {
		t.Errorf("status %v %q, want failed by the out-of-memory killer", res.Status, res.Message)
	}
	c.mu.Lock()
	peaks, lines := c.peaks, c.lines
	c.mu.Unlock()
	if len(peaks) != 1 || peaks[0] <= 0 || peaks[0] > r.Guard.MaxMemory {
		t.Errorf("peak told to the events: %v, want one, at most the limit (the cgroup's)", peaks)
	}
	for _, l := range lines {
		if strings.Contains(l, "watchdog") {
			t.Errorf("the command was left to the watchdog: %q", l)
		}
	}
	guarded := ""
	for _, e := range obs.take() {
		if _, by, ok := strings.Cut(e, " guarded "); ok {
			guarded = by
		}
	}
	if guarded != "max_task_memory" {
		t.Errorf("observer told of guard %q, want max_task_memory", guarded)
	}
	first := cgroupsLeft(t, runs)
	if len(first) != 1 {
		t.Fatalf("cgroups after the killed command: %q, want its emptied one kept", first)
	}

	// The next command, 8 MiB under a 128 MiB cap, in the same cgroup.
	r2 := req("test-tree", map[string]any{"script": `grep -h memory /proc/self/cgroup; perl -e '$n = 8 << 20; $x = "x" x $n'`})
	r2.Guard = plugins.Guard{MaxMemory: 128 << 20}
	var c2 collector
	res = reg.Run(context.Background(), r2, &c2)
	if res.Status != plugins.Completed {
		t.Fatalf("the next command: %v %q, want completed (the earlier OOM kill is not its)", res.Status, res.Message)
	}
	c2.mu.Lock()
	peaks, lines = c2.peaks, c2.lines
	c2.mu.Unlock()
	if len(lines) != 1 || !strings.HasSuffix(lines[0], strings.TrimPrefix(first[0], "/sys/fs/cgroup/memory")) {
		t.Errorf("the next command ran in %q, want the idle %s", lines, first[0])
	}
	if len(peaks) != 1 || peaks[0] < 8<<20 || peaks[0] >= 48<<20 {
		t.Errorf("the next command's peak: %v, want one of its own 8 MiB and some (not the killed one's ~64 MiB)", peaks)
	}
	if left := cgroupsLeft(t, runs); len(left) != 1 {
		t.Errorf("cgroups after the next command: %q, want the one kept", left)
	}
	reg.Close()
	if _, err := os.Stat(runs); !os.IsNotExist(err) {
		t.Errorf("%s is left after Close: %v", runs, err)
	}
}

// A command's child and grandchild are in its cgroup too: each level of
// the tree prints its own memory cgroup.
func TestCgroupHoldsTheWholeTree(t *testing.T) {
	runs := runsOfThisProcess(t)
	reg := open(t, []string{filepath.Join(binDir, "plugins")}, func(o *plugins.Options) { o.MemoryCgroups = true })
	script := `grep -h memory /proc/self/cgroup; sh -c 'grep -h memory /proc/self/cgroup & sh -c "grep -h memory /proc/self/cgroup"; wait'`
	r := req("test-tree", map[string]any{"script": script})
	r.Guard = plugins.Guard{MaxMemory: 256 << 20}
	var c collector
	res := reg.Run(context.Background(), r, &c)
	if res.Status != plugins.Completed {
		t.Fatalf("%v %q", res.Status, res.Message)
	}
	c.mu.Lock()
	lines := c.lines
	c.mu.Unlock()
	rel := "/cajon-runs/" + strconv.Itoa(os.Getpid()) + "/"
	if len(lines) != 3 {
		t.Fatalf("lines %q, want three", lines)
	}
	for _, l := range lines {
		if !strings.Contains(l, rel) || l != lines[0] {
			t.Errorf("a process of the command is in %q, not in its run's cgroup (…%s<n>, as the first line %q)", l, rel, lines[0])
		}
	}
	if left := cgroupsLeft(t, runs); len(left) != 1 {
		t.Errorf("cgroups after the command: %q, want its emptied one kept for the next", left)
	}
}
