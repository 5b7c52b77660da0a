package proctree

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// The kernel clones the process into a v2 cgroup itself (no fallback to
// moving it after the start): the first thing it runs is already there.
// Skipped where this process is not in a cgroup v2 root it can make a cgroup
// in (as on the test machine's hybrid setup it is).
func TestStartClonedIntoV2(t *testing.T) {
	mount := ""
	raw, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(raw), "\n") {
		if pre, post, ok := strings.Cut(line, " - "); ok && strings.HasPrefix(post, "cgroup2 ") {
			if f := strings.Fields(pre); len(f) > 4 && f[3] == "/" {
				mount = f[4]
			}
		}
	}
	raw, _ = os.ReadFile("/proc/self/cgroup")
	if mount == "" || !strings.Contains(string(raw), "\n0::/\n") && !strings.HasPrefix(string(raw), "0::/\n") {
		t.Skip("this process is not in a cgroup v2 root")
	}
	dir := filepath.Join(mount, fmt.Sprintf("cajon-proctree-test-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skip(err)
	}
	defer os.Remove(dir)
	out, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("grep", "-h", "^0::", "/proc/self/cgroup")
	cmd.Stdout = out
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	if err := startCloned(cmd, dir); err != nil {
		t.Fatalf("startCloned: %v", err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out.Name())
	if want := "0::/" + filepath.Base(dir) + "\n"; string(got) != want {
		t.Errorf("the process saw itself in %q, want %q", got, want)
	}
}
