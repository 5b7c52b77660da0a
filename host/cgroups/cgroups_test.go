package cgroups

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/internal/testwait"
	"github.com/cajonfarm/cajon/sdk/proctree"
)

// The cgroup v2 path cannot run for real on the test machine (its unified
// hierarchy has no memory controller), so its file logic runs on a tree
// that looks like a delegated systemd service's cgroup: the worker moves into
// <own>/worker, the memory controller is enabled for the children, and a
// run's cgroup gets its limit, no swap and oom.group.
func TestOpenV2OnAFixtureTree(t *testing.T) {
	root := t.TempDir()
	own := filepath.Join(root, "system.slice", "cajon-worker.service")
	files := map[string]string{
		"cgroup.controllers":     "cpu io memory pids\n",
		"cgroup.subtree_control": "",
		"cgroup.type":            "domain\n",
		"cgroup.procs":           "4242\n",
		"memory.swap.max":        "max\n",
	}
	for name, text := range files {
		write(t, filepath.Join(own, name), text)
	}
	// A dead worker's leftover run, and a live one's (this process) kept.
	dead := filepath.Join(own, runsDir, "999999999", "1-old")
	if err := os.MkdirAll(dead, 0o755); err != nil {
		t.Fatal(err)
	}
	env := Env{
		Cgroup:    filepath.Join(root, "cgroup"),
		Mountinfo: filepath.Join(root, "mountinfo"),
		Pid:       4242,
	}
	write(t, env.Cgroup, "0::/system.slice/cajon-worker.service\n")
	write(t, env.Mountinfo, fmt.Sprintf("33 24 0:28 / %s rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n", root))

	m, err := Open(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.String(), "cgroup v2 at "+own; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if !strings.Contains(m.Swept, "999999999/1-old") || exists(dead) {
		t.Errorf("Swept = %q; the dead worker's run is still there: %v", m.Swept, exists(dead))
	}
	for file, want := range map[string]string{
		"worker/cgroup.procs":                    "4242",
		"cgroup.subtree_control":                 "+memory",
		"cajon-runs/cgroup.subtree_control":      "+memory",
		"cajon-runs/4242/cgroup.subtree_control": "+memory",
	} {
		if got := readString(filepath.Join(own, file)); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	r, err := m.Create("job/task:1", 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(own, "cajon-runs", "4242", "1-job_task_1"); r.Path() != want {
		t.Errorf("Path = %q, want %q", r.Path(), want)
	}
	for file, want := range map[string]string{"memory.max": "67108864", "memory.swap.max": "0"} {
		if got := readString(filepath.Join(r.Path(), file)); got != want {
			t.Errorf("run's %s = %q, want %q", file, got, want)
		}
	}
	write(t, filepath.Join(r.Path(), "memory.peak"), "70000000\n")
	write(t, filepath.Join(r.Path(), "memory.events"), "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 1\n")
	write(t, filepath.Join(r.Path(), "cgroup.events"), "populated 0\nfrozen 0\n")
	if r.Peak() != 70000000 || r.OOMKills() != 1 || r.Populated() {
		t.Errorf("Peak %d, OOMKills %d, Populated %v; want 70000000, 1, false", r.Peak(), r.OOMKills(), r.Populated())
	}
}

// A cgroup v2 without the memory controller delegated, and one that is not
// writable, are refused with a reason the admin can act on.
func TestOpenV2Refusals(t *testing.T) {
	for _, tc := range []struct {
		name        string
		controllers string
		readOnly    bool
		want        string
	}{
		{"no memory controller", "cpu pids\n", false, "has no memory controller"},
		{"not writable", "cpu memory pids\n", true, "is not writable"},
		{"shared with other processes", "cpu memory pids\n", false, "holds other processes than the worker (7 8)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.readOnly && os.Geteuid() == 0 {
				t.Skip("root writes into a read-only folder")
			}
			root := t.TempDir()
			own := filepath.Join(root, "svc")
			write(t, filepath.Join(own, "cgroup.controllers"), tc.controllers)
			write(t, filepath.Join(own, "cgroup.subtree_control"), "")
			write(t, filepath.Join(own, "cgroup.type"), "domain\n")
			write(t, filepath.Join(own, "cgroup.procs"), "1\n7\n8\n")
			if tc.readOnly {
				if err := os.Chmod(own, 0o555); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = os.Chmod(own, 0o755) })
			}
			env := Env{Cgroup: filepath.Join(root, "cgroup"), Mountinfo: filepath.Join(root, "mountinfo"), Pid: 1}
			write(t, env.Cgroup, "0::/svc\n")
			write(t, env.Mountinfo, fmt.Sprintf("33 24 0:28 / %s rw - cgroup2 cgroup2 rw\n", root))
			_, err := Open(context.Background(), env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open: %v; want %q", err, tc.want)
			}
		})
	}
}

// openReal opens this process's memory cgroup, or skips the test saying why
// there is none to use.
func openReal(t *testing.T) *Manager {
	t.Helper()
	m, err := Open(context.Background(), SelfEnv())
	if err != nil {
		t.Skipf("no memory cgroup this test may manage: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Error(err)
		}
		if exists(m.mine) {
			t.Errorf("%s is left behind", m.mine)
		}
	})
	return m
}

// A process over its run's limit is killed by the kernel in the run's
// cgroup: the OOM kill is counted, the peak is near the limit, and the
// cgroup is gone after Remove.
func TestRunOverItsLimitIsKilledByTheKernel(t *testing.T) {
	m := openReal(t)
	const limit = 64 << 20
	r, err := m.Create("oom-test", limit)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("perl", "-e", `$x = "x" x (300 << 20); sleep 1000`)
	g, err := proctree.Start(cmd, proctree.Options{Tag: "cgroups-oom-test", Cgroup: r.Path()})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.CgroupErr(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()
	select {
	case err = <-done:
	case <-time.After(time.Minute):
		_ = g.Terminate(context.Background(), time.Millisecond)
		t.Fatal("the process over its cgroup's limit was not killed within a minute")
	}
	t.Logf("wait: %v; peak %d, oom kills %d", err, r.Peak(), r.OOMKills())
	if r.OOMKills() < 1 {
		t.Errorf("OOMKills = %d, want at least 1", r.OOMKills())
	}
	if p := r.Peak(); p < limit/2 || p > limit {
		t.Errorf("Peak = %d, want near the limit %d", p, limit)
	}
	if err := r.Remove(context.Background()); err != nil {
		t.Fatal(err)
	}
	if exists(r.Path()) {
		t.Fatalf("%s is left behind", r.Path())
	}
}

// Every process the leader forks, and theirs, are in the run's cgroup; and
// a run's processes left behind are killed by Remove.
func TestDescendantsAreInTheCgroup(t *testing.T) {
	m := openReal(t)
	r, err := m.Create("tree-test", 256<<20)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", `sh -c 'sleep 1000 & sleep 1000 & wait' & sleep 1000 & wait`)
	g, err := proctree.Start(cmd, proctree.Options{Tag: "cgroups-tree-test", Cgroup: r.Path()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Terminate(context.Background(), time.Millisecond); _ = g.Wait() })
	if err := g.CgroupErr(); err != nil {
		t.Fatal(err)
	}
	var members []int
	testwait.For(t, "the leader, a child, and two grandchildren", func() bool {
		var err error
		members, err = g.Members()
		return err == nil && len(members) >= 5
	})
	// The cgroup as /proc/<pid>/cgroup names it: its path below the mount.
	rel := strings.TrimPrefix(r.Path(), "/sys/fs/cgroup/memory")
	for _, pid := range members {
		raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
		if err != nil {
			continue // gone meanwhile
		}
		ok := slices.ContainsFunc(strings.Split(string(raw), "\n"), func(l string) bool {
			return strings.HasSuffix(l, ":"+rel)
		})
		if !ok {
			t.Errorf("process %d is not in %s:\n%s", pid, r.Path(), raw)
		}
	}
	if !r.Populated() {
		t.Error("Populated = false with processes in it")
	}
	// Remove kills what is left in the cgroup, then removes it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	if exists(r.Path()) {
		t.Fatalf("%s is left behind", r.Path())
	}
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// On the test machine's real cgroup v2 hierarchy, which has no memory
// controller (hybrid mode), Open refuses it and says why; skipped where the
// hierarchy has one or there is none.
func TestOpenRefusesARealV2WithoutMemory(t *testing.T) {
	raw, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Skip(err)
	}
	mounts, err := ParseMountinfo(raw)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(mounts, func(m Mount) bool { return m.V2 && m.Root == "/" })
	if i < 0 {
		t.Skip("no cgroup v2 mount")
	}
	if hasWord(readString(filepath.Join(mounts[i].Point, "cgroup.controllers")), "memory") {
		t.Skip("this cgroup v2 hierarchy has the memory controller")
	}
	dir := t.TempDir()
	env := Env{Cgroup: filepath.Join(dir, "cgroup"), Mountinfo: "/proc/self/mountinfo", Pid: os.Getpid()}
	write(t, env.Cgroup, "0::/\n")
	_, err = Open(context.Background(), env)
	if want := "cgroup v2 at " + mounts[i].Point + " has no memory controller"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Open: %v; want %q", err, want)
	}
}
