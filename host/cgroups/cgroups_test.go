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
	"sync"
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
	ctx := context.Background()
	r, err := m.Acquire(ctx, "job/task:1", 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(own, "cajon-runs", "4242", "1"); r.Path() != want {
		t.Errorf("Path = %q, want %q", r.Path(), want)
	}
	wantFiles(t, r.Path(), map[string]string{"memory.max": "67108864", "memory.swap.max": "0"})
	// The kernel's files, as after a command killed over its limit.
	write(t, filepath.Join(r.Path(), "memory.peak"), "70000000\n")
	write(t, filepath.Join(r.Path(), "memory.events"), "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 1\n")
	write(t, filepath.Join(r.Path(), "cgroup.events"), "populated 0\nfrozen 0\n")
	// The run's files were opened before the kernel's were written here.
	r.discardFiles()
	r.open()
	if r.Peak() != 70000000 || r.OOMKills() != 1 || r.Populated() {
		t.Errorf("Peak %d, OOMKills %d, Populated %v; want 70000000, 1, false", r.Peak(), r.OOMKills(), r.Populated())
	}
	if err := r.Release(ctx); err != nil {
		t.Fatal(err)
	}

	// The next run, with another identity's limit, gets the empty cgroup:
	// its limit set, the peak reset (Linux 6.12+: a write to memory.peak)
	// and the earlier OOM kill not counted.
	r2, err := m.Acquire(ctx, "job/task:2", 32<<20)
	if err != nil {
		t.Fatal(err)
	}
	if r2.Path() != r.Path() {
		t.Errorf("the next run got %s, not the idle %s", r2.Path(), r.Path())
	}
	wantFiles(t, r2.Path(), map[string]string{"memory.max": "33554432", "memory.peak": "reset000\n"})
	if r2.OOMKills() != 0 {
		t.Errorf("OOMKills = %d at the start of the next run, want 0", r2.OOMKills())
	}
	write(t, filepath.Join(r.Path(), "memory.events"), "low 0\nhigh 0\nmax 12\noom 3\noom_kill 3\noom_group_kill 2\n")
	write(t, filepath.Join(r.Path(), "memory.peak"), "20000000\n")
	if r2.Peak() != 20000000 || r2.OOMKills() != 2 {
		t.Errorf("the next run's Peak %d, OOMKills %d; want 20000000, 2", r2.Peak(), r2.OOMKills())
	}
	// Still populated at its end: not kept (the fixture's folder cannot be
	// removed as a cgroup can, so the removal gives up).
	write(t, filepath.Join(r.Path(), "cgroup.events"), "populated 1\nfrozen 0\n")
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if err := r2.Release(short); err == nil {
		t.Error("Release of a populated fixture cgroup removed it")
	}
	r3, err := m.Acquire(ctx, "job/task:3", 32<<20)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(own, "cajon-runs", "4242", "2"); r3.Path() != want {
		t.Errorf("after a populated release, the next run got %s, want a new %s", r3.Path(), want)
	}
}

// Where memory.peak cannot be reset (cgroup v2 before Linux 6.12), a reused
// cgroup's peak is the run's only when it rose above the earlier runs'; else
// it is unknown (0) and the watchdog's samples tell it.
func TestPeakWithoutReset(t *testing.T) {
	for _, tc := range []struct {
		name          string
		before, after string
		want          int64
	}{
		{"rose in this run", "50000000\n", "60000000\n", 60000000},
		{"no higher than before", "50000000\n", "50000000\n", 0},
		{"unreadable", "50000000\n", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, filepath.Join(dir, "memory.peak"), tc.before)
			r := &Run{v2: true, dir: dir, limit: 1 << 30}
			r.open()
			defer r.discardFiles()
			r.noReset = true
			if err := r.reuse(1<<30, false); err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(dir, "memory.peak"), tc.after)
			if got := r.Peak(); got != tc.want {
				t.Errorf("Peak = %d, want %d", got, tc.want)
			}
		})
	}
}

func wantFiles(t *testing.T, dir string, want map[string]string) {
	t.Helper()
	for file, text := range want {
		if got := readString(filepath.Join(dir, file)); got != text {
			t.Errorf("%s = %q, want %q", filepath.Join(filepath.Base(dir), file), got, text)
		}
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

// Runs one after the other in one Manager, on the real cgroupfs: a process
// over its run's limit is killed by the kernel in the run's cgroup (the OOM
// kill counted, the peak near the limit), and the next runs reuse the empty
// cgroup with their own limits, peaks and OOM kills, not the earlier runs'.
func TestRunsReuseAnEmptyCgroup(t *testing.T) {
	m := openReal(t)
	const mib = 1 << 20
	var first string
	for i, tc := range []struct {
		name           string
		limit          int64
		perl           string // run in the cgroup to its end; "" none
		oomKills       int64
		peakLo, peakHi int64
	}{
		{"over its limit", 64 * mib, `$n = 300 << 20; $x = "x" x $n; sleep 1000`, 1, 32 * mib, 64 * mib},
		{"a raised limit, 8 MiB", 128 * mib, `$n = 8 << 20; $x = "x" x $n`, 0, 8 * mib, 48 * mib},
		{"a lowered limit, nothing", 48 * mib, `1`, 0, 1, 24 * mib},
		{"over the lowered limit", 48 * mib, `$n = 100 << 20; $x = "x" x $n; sleep 1000`, 1, 24 * mib, 48 * mib},
		// An in-plugin command (echo): what earlier runs left charged is
		// not its peak.
		{"no process, unknown peak", 48 * mib, "", 0, 0, 0},
	} {
		r, err := m.Acquire(context.Background(), "reuse-test", tc.limit)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if i == 0 {
			first = r.Path()
		} else if r.Path() != first {
			t.Errorf("%s: got cgroup %s, not the idle %s", tc.name, r.Path(), first)
		}
		if got := readString(filepath.Join(r.Path(), "memory.limit_in_bytes")); strings.TrimSpace(got) != strconv.FormatInt(tc.limit, 10) {
			t.Errorf("%s: memory.limit_in_bytes %q, want %d", tc.name, got, tc.limit)
		}
		if n := r.OOMKills(); n != 0 {
			t.Errorf("%s: OOMKills = %d before the command, want 0", tc.name, n)
		}
		if tc.perl != "" {
			runIn(t, r, tc.perl)
		}
		t.Logf("%s: peak %d, oom kills %d", tc.name, r.Peak(), r.OOMKills())
		if n := r.OOMKills(); n != tc.oomKills {
			t.Errorf("%s: OOMKills = %d, want %d", tc.name, n, tc.oomKills)
		}
		if p := r.Peak(); p < tc.peakLo || p > tc.peakHi {
			t.Errorf("%s: Peak = %d, want %d to %d", tc.name, p, tc.peakLo, tc.peakHi)
		}
		if err := r.Release(context.Background()); err != nil {
			t.Fatal(err)
		}
		if !exists(r.Path()) {
			t.Fatalf("%s: the empty cgroup %s was removed, not kept", tc.name, r.Path())
		}
	}
	// openReal's cleanup checks that Close leaves nothing.
}

// runIn runs perl code in r's cgroup to its end (or the kernel's kill).
func runIn(t *testing.T, r *Run, code string) {
	t.Helper()
	g, err := proctree.Start(exec.Command("perl", "-e", code), proctree.Options{Tag: "cgroups-test", Cgroup: r.Path()})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.CgroupErr(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		_ = g.Terminate(context.Background(), time.Millisecond)
		t.Fatal("the command did not end within a minute")
	}
}

// Runs at once each get a cgroup of their own, and the cgroups are reused
// but never more than maxIdle kept; Close removes them all (-race checks
// the pool's locking).
func TestConcurrentRunsShareThePool(t *testing.T) {
	m := openReal(t)
	ctx := context.Background()
	const workers, rounds = 4, 25
	var mu sync.Mutex
	inUse := map[string]bool{}
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		go func() {
			errs <- func() error {
				for i := 0; i < rounds; i++ {
					r, err := m.Acquire(ctx, "concurrent", int64(64+w)<<20)
					if err != nil {
						return err
					}
					mu.Lock()
					taken := inUse[r.Path()]
					inUse[r.Path()] = true
					mu.Unlock()
					if taken {
						return fmt.Errorf("%s given to two runs at once", r.Path())
					}
					if r.Peak() < 0 || r.OOMKills() != 0 {
						return fmt.Errorf("%s: peak %d, OOM kills %d", r.Path(), r.Peak(), r.OOMKills())
					}
					mu.Lock()
					delete(inUse, r.Path())
					mu.Unlock()
					if err := r.Release(ctx); err != nil {
						return err
					}
				}
				return nil
			}()
		}()
	}
	for w := 0; w < workers; w++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(m.mine)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if e.IsDir() {
			n++
		}
	}
	if n < 1 || n > workers || n > maxIdle {
		t.Errorf("%d cgroups kept after %d runs by %d at once, want 1 to %d", n, workers*rounds, workers, min(workers, maxIdle))
	}
}

// Beyond maxIdle, released cgroups are removed.
func TestThePoolIsBounded(t *testing.T) {
	m := openReal(t)
	ctx := context.Background()
	var runs []*Run
	for i := 0; i < maxIdle+2; i++ {
		r, err := m.Acquire(ctx, "bound", 64<<20)
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, r)
	}
	for _, r := range runs {
		if err := r.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
	kept := 0
	for _, r := range runs {
		if exists(r.Path()) {
			kept++
		}
	}
	if kept != maxIdle {
		t.Errorf("%d cgroups kept, want maxIdle = %d", kept, maxIdle)
	}
}

// Every process the leader forks, and theirs, are in the run's cgroup; and
// a run's processes left behind are killed by Release, which removes the
// cgroup instead of keeping it for the next run.
func TestDescendantsAreInTheCgroup(t *testing.T) {
	m := openReal(t)
	r, err := m.Acquire(context.Background(), "tree-test", 256<<20)
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
	// Release kills what is left in the cgroup, then removes it: a
	// cgroup with processes is never given to the next run.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if exists(r.Path()) {
		t.Fatalf("%s is left behind", r.Path())
	}
	next, err := m.Acquire(ctx, "after-tree-test", 256<<20)
	if err != nil {
		t.Fatal(err)
	}
	if next.Path() == r.Path() {
		t.Errorf("the next run got the removed cgroup's path %s", next.Path())
	}
	if err := next.Release(ctx); err != nil {
		t.Fatal(err)
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
