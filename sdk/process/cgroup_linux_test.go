package process

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// A command with a Cgroup runs in it, its child and grandchild too; a
// Cgroup that is not one runs the command anyway and says why through
// OnCgroupError.
func TestRunInCgroup(t *testing.T) {
	script := `grep -h memory /proc/self/cgroup; sh -c 'grep -h memory /proc/self/cgroup & sh -c "grep -h memory /proc/self/cgroup"; wait'`
	for _, tc := range []struct {
		name    string
		cgroup  func(t *testing.T) string
		joinErr string // "" = joins
	}{
		{"a v1 memory cgroup", memoryCgroup, ""},
		{"a folder that is no cgroup", func(t *testing.T) string { return t.TempDir() }, "is not a cgroup"},
		{"a relative path", func(*testing.T) string { return "cajon-runs/1" }, "not an absolute path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.cgroup(t)
			var mu sync.Mutex
			var lines []string
			var joinErr error
			res, err := Run(context.Background(), Command{
				Path: "/bin/sh", Args: []string{"-c", script}, Tag: "cgroup-test", Cgroup: dir,
				OnCgroupError: func(err error) { joinErr = err },
				OnLine: func(_ Stream, l string) {
					mu.Lock()
					defer mu.Unlock()
					lines = append(lines, l)
				},
			})
			if err != nil || res.ExitCode != 0 {
				t.Fatalf("Run: %+v, %v", res, err)
			}
			if tc.joinErr != "" {
				if joinErr == nil || !strings.Contains(joinErr.Error(), tc.joinErr) {
					t.Fatalf("OnCgroupError got %v, want %q", joinErr, tc.joinErr)
				}
				if _, err := os.Stat(filepath.Join(dir, "tasks")); err == nil {
					t.Errorf("a tasks file was written into %s", dir)
				}
				return
			}
			if joinErr != nil {
				t.Fatal(joinErr)
			}
			if len(lines) != 3 {
				t.Fatalf("lines %q, want three", lines)
			}
			for _, l := range lines {
				if !strings.HasSuffix(dir, l[strings.LastIndex(l, ":")+1:]) || strings.HasSuffix(l, ":/") {
					t.Errorf("a process of the command is in %q, not in %s", l, dir)
				}
			}
		})
	}
}

// memoryCgroup makes a cgroup v1 memory cgroup below this process's own,
// removed at the end of the test; it skips the test where it cannot.
func memoryCgroup(t *testing.T) string {
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
	dir := filepath.Join("/sys/fs/cgroup/memory", own, fmt.Sprintf("cajon-sdk-test-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("cannot make a memory cgroup: %v", err)
	}
	// Its processes are gone when Run returns.
	t.Cleanup(func() {
		if err := os.Remove(dir); err != nil {
			t.Error(err)
		}
	})
	return dir
}

// On cgroup v2 the command is cloned into its cgroup (CLONE_INTO_CGROUP).
// The test machine's unified hierarchy has no memory controller, but the
// clone into a v2 cgroup works all the same; skipped where there is none.
func TestRunInCgroupV2(t *testing.T) {
	dir := unifiedCgroup(t)
	var joinErr error
	var lines []string
	var mu sync.Mutex
	res, err := Run(context.Background(), Command{
		Path: "/bin/sh", Args: []string{"-c", `grep -h '^0::' /proc/self/cgroup; sh -c "grep -h '^0::' /proc/self/cgroup"`},
		Tag: "cgroup-v2-test", Cgroup: dir,
		OnCgroupError: func(err error) { joinErr = err },
		OnLine: func(_ Stream, l string) {
			mu.Lock()
			defer mu.Unlock()
			lines = append(lines, l)
		},
	})
	if err != nil || res.ExitCode != 0 || joinErr != nil {
		t.Fatalf("Run: %+v, %v; cgroup: %v", res, err, joinErr)
	}
	want := "0::/" + filepath.Base(dir)
	if len(lines) != 2 || !strings.HasSuffix(lines[0], want) || !strings.HasSuffix(lines[1], want) {
		t.Errorf("lines %q, want two ending in %q", lines, want)
	}
}

// unifiedCgroup makes a cgroup below this process's own in the cgroup v2
// hierarchy, removed at the end of the test; it skips the test where it
// cannot.
func unifiedCgroup(t *testing.T) string {
	raw, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Skip(err)
	}
	var mount string
	for _, line := range strings.Split(string(raw), "\n") {
		if pre, post, ok := strings.Cut(line, " - "); ok && strings.HasPrefix(post, "cgroup2 ") {
			if f := strings.Fields(pre); len(f) > 4 && f[3] == "/" {
				mount = f[4]
			}
		}
	}
	raw, _ = os.ReadFile("/proc/self/cgroup")
	var own string
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "0::"); ok {
			own = rest
		}
	}
	if mount == "" || own != "/" {
		// Below the root, the no-internal-processes rule needs the setup
		// host/cgroups does; the root takes children as they come.
		t.Skipf("no cgroup v2 root to make a test cgroup in (mount %q, own cgroup %q)", mount, own)
	}
	dir := filepath.Join(mount, fmt.Sprintf("cajon-sdk-test-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("cannot make a cgroup v2 cgroup: %v", err)
	}
	t.Cleanup(func() {
		if err := os.Remove(dir); err != nil {
			t.Error(err)
		}
	})
	return dir
}
