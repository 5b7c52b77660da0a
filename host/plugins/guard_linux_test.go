package plugins_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/plugins"
	"github.com/cajonfarm/cajon/internal/testwait"
)

// The node guard: a command over max_task_memory is killed and fails
// saying so, a silent command without CPU is aborted as stalled, and a
// command that prints or computes is left alone. Each sampled command's
// log ends with its peak memory.
func TestGuardStopsRunawayCommands(t *testing.T) {
	hog := `perl -e '$x = "x" x (200 << 20); print "allocated\n"; sleep 1000'`
	for _, tc := range []struct {
		name   string
		script string
		guard  plugins.Guard
		status plugins.Status
		want   []string // in the result's message
		by     string   // the observer's cause, "" = none
	}{
		{"over the memory cap", hog, plugins.Guard{MaxMemory: 64 << 20}, plugins.Failed,
			[]string{"killed by the out-of-memory killer (max_task_memory): peak ", "limit 64.0 MiB"}, "max_task_memory"},
		{"silent without CPU", `echo started; echo "last words"; exec sleep 1000`, plugins.Guard{StallTimeout: time.Second}, plugins.Failed,
			[]string{"stalled: no output and no CPU time", "for 1s (stall_timeout)", `last output`, `"last words"`}, "stall"},
		{"silent from the start", `exec sleep 1000`, plugins.Guard{StallTimeout: time.Second}, plugins.Failed,
			[]string{"stalled", "no output at all since it started"}, "stall"},
		{"printing", `for i in $(seq 30); do echo tick $i; sleep 0.1; done`, plugins.Guard{StallTimeout: 2 * time.Second}, plugins.Completed,
			nil, ""},
		{"computing in silence", `perl -e 'my $t = time + 3; while (time < $t) {}'`, plugins.Guard{StallTimeout: 2 * time.Second}, plugins.Completed,
			nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var obs eventLog
			reg := open(t, []string{filepath.Join(binDir, "plugins")}, func(o *plugins.Options) { o.Observer = &obs })
			r := req("test-tree", map[string]any{"script": tc.script})
			r.Guard = tc.guard
			r.Grace = 300 * time.Millisecond
			var c collector
			res := reg.Run(context.Background(), r, &c)
			t.Logf("%v: %s", res.Status, res.Message)
			if res.Status != tc.status {
				t.Fatalf("status %v %q, want %v", res.Status, res.Message, tc.status)
			}
			for _, w := range tc.want {
				if !strings.Contains(res.Message, w) {
					t.Errorf("message %q lacks %q", res.Message, w)
				}
			}
			c.mu.Lock()
			told := c.peaks
			c.mu.Unlock()
			if len(told) != 1 || told[0] <= 0 {
				t.Errorf("peak memory told to the events: %v, want one", told)
			}
			guarded := ""
			for _, e := range obs.take() {
				if _, by, ok := strings.Cut(e, " guarded "); ok {
					guarded = by
				}
			}
			if guarded != tc.by {
				t.Errorf("observer told of guard %q, want %q", guarded, tc.by)
			}
			obs.mu.Lock()
			peaks := obs.peaks
			obs.mu.Unlock()
			if len(peaks) != 1 || (tc.guard.MaxMemory > 0 && peaks[0] <= tc.guard.MaxMemory) {
				t.Errorf("peaks told to the observer: %v", peaks)
			}
		})
	}
}

// A command that the kernel's OOM killer kills is reported as such, not as
// a bare "killed": the command moves itself into a memory cgroup of 64 MiB
// and allocates 200 MiB. Skipped where this process cannot make a cgroup v1
// memory group (most cgroup v2 systems: the host's own cap is the watchdog).
func TestKernelOOMKillIsNamed(t *testing.T) {
	group := memoryCgroup(t, 64<<20)
	reg := open(t, []string{filepath.Join(binDir, "plugins")})
	script := fmt.Sprintf(`echo $$ > %s/cgroup.procs && exec perl -e '$n = 200 << 20; $x = "x" x $n; sleep 1000'`, group)
	var c collector
	res := reg.Run(context.Background(), req("test-tree", map[string]any{"script": script}), &c)
	t.Logf("%v: %s", res.Status, res.Message)
	if res.Status != plugins.Failed || !strings.HasPrefix(res.Message, "killed by the out-of-memory killer: peak ") || !strings.Contains(res.Message, ", limit ") {
		t.Fatalf("status %v %q, want failed by the out-of-memory killer", res.Status, res.Message)
	}
}

// memoryCgroup makes a cgroup v1 memory group below this process's own,
// with a limit of limit bytes and no swap, removed at the end of the test.
func memoryCgroup(t *testing.T, limit int64) string {
	t.Helper()
	raw, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Skip(err)
	}
	var own string
	for _, line := range strings.Split(string(raw), "\n") {
		if parts := strings.SplitN(line, ":", 3); len(parts) == 3 && parts[1] == "memory" {
			own = parts[2]
		}
	}
	if own == "" {
		t.Skip("no cgroup v1 memory controller")
	}
	dir := filepath.Join("/sys/fs/cgroup/memory", own, fmt.Sprintf("cajon-oom-test-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("cannot make a memory cgroup: %v", err)
	}
	t.Cleanup(func() {
		// Its processes are gone once the command ended.
		testwait.For(t, "the test cgroup to be removed", func() bool { return os.Remove(dir) == nil || !exists(dir) })
	})
	for _, f := range []string{"memory.limit_in_bytes", "memory.memsw.limit_in_bytes"} {
		err := os.WriteFile(filepath.Join(dir, f), []byte(strconv.FormatInt(limit, 10)), 0)
		if err != nil && f == "memory.limit_in_bytes" {
			t.Skipf("cannot limit the memory cgroup: %v", err)
		}
	}
	return dir
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// Two commands at once in one plugin process (identities share plugins):
// the cap of one counts and kills only its own processes, by their run's
// tag; the other command runs on and completes.
func TestGuardCapKillsOnlyItsOwnCommand(t *testing.T) {
	reg := open(t, []string{filepath.Join(binDir, "plugins")})
	dir := t.TempDir()
	release := filepath.Join(dir, "release")
	// The neighbour holds 150 MiB, over the hog's cap by itself: counted
	// with the hog's, it would be killed too.
	neighbour := req("test-tree", map[string]any{"script": fmt.Sprintf(
		`perl -e '$n = 150 << 20; $x = "x" x $n; open(F, ">%s/ready") or die; close F; select(undef, undef, undef, 0.05) until -e "%s"'`, dir, release)})
	done := make(chan plugins.Result, 1)
	go func() { done <- reg.Run(context.Background(), neighbour, nil) }()
	testwait.For(t, "the neighbour to hold its memory", func() bool { return exists(filepath.Join(dir, "ready")) })

	hog := req("test-tree", map[string]any{"script": `perl -e '$n = 200 << 20; $x = "x" x $n; sleep 1000'`})
	hog.Guard = plugins.Guard{MaxMemory: 100 << 20}
	res := reg.Run(context.Background(), hog, nil)
	if res.Status != plugins.Failed || !strings.Contains(res.Message, "(max_task_memory)") {
		t.Fatalf("hog: %v %q, want failed over the cap", res.Status, res.Message)
	}
	select {
	case res := <-done:
		t.Fatalf("the neighbour ended with the hog: %v %q", res.Status, res.Message)
	default:
	}
	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if res := <-done; res.Status != plugins.Completed {
		t.Fatalf("neighbour: %v %q, want completed", res.Status, res.Message)
	}
}
