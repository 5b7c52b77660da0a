//go:build unix

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/cajonfarm/cajon/internal/proctest"
	"github.com/cajonfarm/cajon/internal/testwait"
	"github.com/cajonfarm/cajon/sdk/proctree"
)

// This file tests how 'cajon local' ends tasks it does not complete: a
// cancel that kills the tree, a signal that queues them again, a crash.

// treeJob is a job whose task "work" runs script through testkit, with
// "before" ahead of it and "after" behind it, each appending to marker.
func treeJob(marker, script string) string {
	return fmt.Sprintf(`name = "tree"
[[tasks]]
name = "before"
  [[tasks.commands]]
  name = "test-tree"
  parameters = { script = "echo before >> %[1]s" }
[[tasks]]
name = "work"
depends_on = ["before"]
  [[tasks.commands]]
  name = "test-tree"
  parameters = { script = '''%[2]s''' }
[[tasks]]
name = "after"
depends_on = ["work"]
  [[tasks.commands]]
  name = "test-tree"
  parameters = { script = "echo after >> %[1]s" }
`, marker, script)
}

func TestLocalCancelKillsTree(t *testing.T) {
	c := newCajon(t)
	// The escapee ignores SIGTERM: SIGKILL it after 1 s, not 10.
	c.env = append(c.env, "CAJON_KILL_GRACE=1s")
	pidFile := filepath.Join(c.dir, "pids")
	// A tree with an escapee: a setsid'd grandchild that ignores SIGTERM.
	script := fmt.Sprintf(`setsid sh -c 'trap "" TERM; echo $$ >> %[1]s; sleep 60' &
sleep 60 & echo $! >> %[1]s
echo $$ >> %[1]s
wait`, pidFile)
	id := c.submit(c.writeJob("tree.toml", treeJob(filepath.Join(c.dir, "marker"), script)))
	runner, out := c.startRunner("--plain")
	testwait.For(t, "the tree to start", func() bool { return len(proctest.ReadPidList(t, pidFile)) == 3 })
	testwait.For(t, "show to list the task's processes", func() bool {
		j := c.show(id)
		tk := j.Tasks[j.task(t, "work")]
		return tk.Status == "running" && len(tk.Pids) > 0
	})
	// One runner per queue, however the queue is reached: a second one
	// refuses before it says it works the queue, also through a state
	// directory whose local.db is a symlink to this one.
	refused := fmt.Sprintf("cajon local run: another 'cajon local run' is working this queue (pid %d): stop it first, or use it (jobs submitted now are picked up by it)\n", runner.Process.Pid)
	if _, errOut, code := c.run("local", "run", "--until-idle"); code != 1 || errOut != refused {
		t.Errorf("second runner: exit %d, stderr\n%s\nwant exit 1 and\n%s", code, errOut, refused)
	}
	other := filepath.Join(t.TempDir(), "other-state")
	if err := os.MkdirAll(other, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(c.state, "local.db"), filepath.Join(other, "local.db")); err != nil {
		t.Fatal(err)
	}
	linked := *c
	linked.state = other
	if _, errOut, code := linked.run("local", "run", "--until-idle"); code != 1 || errOut != refused {
		t.Errorf("second runner through a symlinked local.db: exit %d, stderr\n%s\nwant exit 1 and\n%s", code, errOut, refused)
	}

	_, errOut, code := c.run("local", "cancel", id)
	if code != 0 || !strings.Contains(errOut, "running tasks aborted") {
		t.Fatalf("cancel: exit %d\n%s", code, errOut)
	}
	// It says how long the wait may be.
	if want := fmt.Sprintf("cajon: job %s canceled; cajon local run (pid %d) is stopping \"work\" (up to 1s grace, then SIGKILL)\n", id, runner.Process.Pid); !strings.HasPrefix(errOut, want) {
		t.Errorf("cancel says\n%s\nwant it to start with\n%s", errOut, want)
	}
	for _, pid := range proctest.ReadPidList(t, pidFile) {
		testwait.For(t, fmt.Sprintf("pid %d of the canceled tree to be gone", pid), func() bool { return !proctest.Alive(pid) })
	}
	j := c.show(id)
	if j.State != "canceled" || j.Tasks[j.task(t, "work")].Status != "canceled" || j.Tasks[j.task(t, "after")].Status != "canceled" {
		t.Errorf("after cancel: %+v", j)
	}
	// The runner keeps working; SIGTERM stops it cleanly.
	if err := runner.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := runner.Wait(); err != nil {
		t.Errorf("runner after SIGTERM: %v\n%s", err, out)
	}
	// A cancel is the user's own doing, not an error.
	if log := out.String(); strings.Contains(log, "[ERROR]") || !regexp.MustCompile(`\[INFO\]  cajon: task canceled: job=`+id+` name=tree task=work `).MatchString(log) {
		t.Errorf("the runner's log of a canceled job:\n%s", log)
	}
}

func TestLocalSignalRequeues(t *testing.T) {
	c := newCajon(t)
	marker := filepath.Join(c.dir, "marker")
	script := fmt.Sprintf("echo work >> %s; sleep 1", marker)
	id := c.submit(c.writeJob("tree.toml", treeJob(marker, script)))
	runner, out := c.startRunner()
	testwait.For(t, "work to start", func() bool {
		raw, _ := os.ReadFile(marker)
		return strings.Contains(string(raw), "work")
	})
	if err := runner.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := runner.Wait(); err != nil {
		t.Fatalf("runner after SIGINT: %v\n%s", err, out)
	}
	j := c.show(id)
	work := j.Tasks[j.task(t, "work")]
	if work.Status != "queued" || len(work.Attempts) != 1 || work.Attempts[0].Status != "interrupted" || work.Started != nil {
		t.Fatalf("after SIGINT: %+v\n%s", work, out)
	}
	// Nothing runs: the job is queued again, not left "running 1/3".
	if j.Status != "queued" {
		t.Errorf("job after SIGINT: %s, want queued", j.Status)
	}
	if list := c.ok("local", "list"); !strings.Contains(list, "tree  queued") || strings.Contains(list, "running") {
		t.Errorf("list after SIGINT:\n%s", list)
	}
	c.ok("local", "run", "--until-idle")
	if j := c.show(id); j.State != "completed" {
		t.Errorf("after the next run: %+v", j)
	}
}

func TestLocalCrashAndRestart(t *testing.T) {
	c := newCajon(t)
	marker := filepath.Join(c.dir, "marker")
	pidFile := filepath.Join(c.dir, "pids")
	flag := filepath.Join(c.dir, "second-run")
	// The first run of "work" hangs (and leaves an escaped daemon); the
	// second finishes at once: commands must tolerate a second run.
	script := fmt.Sprintf(`echo work-start >> %[1]s
if [ ! -e %[3]s ]; then
  touch %[3]s
  setsid sh -c 'echo $$ >> %[2]s; sleep 60' &
  sleep 60 & echo $! >> %[2]s
  echo $$ >> %[2]s
  wait
fi
echo work-done >> %[1]s`, marker, pidFile, flag)
	id := c.submit(c.writeJob("tree.toml", treeJob(marker, script)))
	runner, out := c.startRunner()
	testwait.For(t, "the tree to start", func() bool { return len(proctest.ReadPidList(t, pidFile)) == 3 })
	// Everything the runner started: plugins and the task's tree.
	tree, err := proctree.Descendants(runner.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	tree = append(tree, proctest.ReadPidList(t, pidFile)...)
	if err := runner.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	runner.Wait()
	for _, pid := range tree {
		testwait.For(t, fmt.Sprintf("pid %d of the killed runner's tree to be gone", pid), func() bool { return !proctest.Alive(pid) })
	}
	// What the killed runner left running is shown for what it is.
	j := c.show(id)
	if work := j.Tasks[j.task(t, "work")]; work.Status != "interrupted" || work.RunnerGone != runner.Process.Pid || j.Status != "interrupted" {
		t.Fatalf("after the runner was killed: job %s, work %+v; want both interrupted, runner %d gone\n%s", j.Status, work, runner.Process.Pid, out)
	}
	gone := fmt.Sprintf("interrupted (runner pid %d gone)", runner.Process.Pid)
	if list := c.ok("local", "list"); !strings.Contains(list, gone) {
		t.Errorf("list lacks %q:\n%s", gone, list)
	}
	if show := c.ok("local", "show", id); !strings.Contains(show, "INTERRUPTED (runner pid") || !regexp.MustCompile(`\bwork +`+regexp.QuoteMeta(gone)).MatchString(show) {
		t.Errorf("show lacks the interrupted job and task:\n%s", show)
	}

	_, errOut, code := c.run("local", "run", "--until-idle")
	if code != 0 || !strings.Contains(errOut, "interrupted by a crash") {
		t.Fatalf("restart: exit %d\n%s", code, errOut)
	}
	j = c.show(id)
	if j.State != "completed" {
		t.Fatalf("after restart: %+v", j)
	}
	for _, tk := range j.Tasks {
		completed := 0
		for _, a := range tk.Attempts {
			if a.Status == "completed" {
				completed++
			}
		}
		if completed != 1 {
			t.Errorf("task %s recorded completed %d times: %+v", tk.Name, completed, tk.Attempts)
		}
	}
	if a := j.Tasks[j.task(t, "work")].Attempts; len(a) != 2 || a[0].Status != "interrupted" {
		t.Errorf("attempts of work: %+v", a)
	}
	raw, err := os.ReadFile(marker)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(string(raw)); strings.Join(got, " ") != "before work-start work-start work-done after" {
		t.Errorf("tasks ran as %q", got)
	}
}
