package main

import (
	"fmt"
	"github.com/cajonfarm/cajon/internal/testwait"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestLocalFullDisk fills the state directory's disk (a small tmpfs) from a
// task: the end of that task cannot be recorded, so no other task starts
// until space is freed; then the queue goes on and the task is recorded once.
func TestLocalFullDisk(t *testing.T) {
	c := newCajon(t)
	if err := os.MkdirAll(c.state, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", c.state, "tmpfs", 0, "size=8m,mode=0700"); err != nil {
		t.Skipf("cannot mount a small tmpfs for the full disk (needs root): %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(c.state, syscall.MNT_DETACH) })
	fill := filepath.Join(c.state, "fill")
	id := c.submit(c.writeJob("full.toml", fmt.Sprintf(`name = "full"
[[tasks]]
name = "fill"
  [[tasks.commands]]
  name = "test-tree"
  parameters = { script = "dd if=/dev/zero of=%s bs=64k 2>/dev/null; echo the disk is full" }
[[tasks]]
name = "after"
depends_on = ["fill"]
  [[tasks.commands]]
  name = "echo"
  parameters = { message = "after" }
`, fill)))
	runner, out := c.startRunner("--until-idle", "--plain")
	testwait.For(t, "the runner to report the full disk", func() bool {
		return strings.Contains(out.String(), "cannot record the end of a task: no task starts until it is recorded")
	})
	if want := fmt.Sprintf(`disk="the disk holding %s (mounted at %s, 0 bytes free)"`, c.state, c.state); !strings.Contains(out.String(), want) {
		t.Errorf("the runner's log does not name the disk (%s):\n%s", want, out)
	}
	if strings.Contains(out.String(), "task=after") {
		t.Errorf("a task started while the disk was full:\n%s", out)
	}
	if err := os.Remove(fill); err != nil {
		t.Fatal(err)
	}
	if err := runner.Wait(); err != nil {
		t.Fatalf("runner after space was freed: %v\n%s", err, out)
	}
	if !strings.Contains(out.String(), "recorded the end of a task; tasks start again") {
		t.Errorf("the runner did not say it recovered:\n%s", out)
	}
	j := c.show(id)
	if j.State != "completed" {
		t.Fatalf("job after the disk had room again: %+v\n%s", j, out)
	}
	for _, tk := range j.Tasks {
		if len(tk.Attempts) != 1 {
			t.Errorf("task %s ran %d times", tk.Name, len(tk.Attempts))
		}
	}
}
