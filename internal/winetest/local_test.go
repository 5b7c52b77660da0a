//go:build unix

package winetest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/internal/proctest"
	"github.com/cajonfarm/cajon/internal/testwait"
	"github.com/cajonfarm/cajon/internal/wine"
)

// submit writes a job file into the test's folder and submits it; it
// returns the job's id.
func (h *host) submit(t testing.TB, name, job string) string {
	t.Helper()
	path := filepath.Join(h.dir, name+".toml")
	if err := os.WriteFile(path, []byte(job), 0o644); err != nil {
		t.Fatal(err)
	}
	out := h.run(t, "local", "submit", wine.WinPath(path))
	for _, f := range strings.Fields(out) {
		if _, err := fmt.Sscan(f, new(int)); err == nil {
			return f
		}
	}
	t.Fatalf("cajon.exe local submit printed no job id:\n%s", out)
	return ""
}

// localJob is what `cajon local show --json` says of a job.
type localJob struct {
	Status string `json:"status"`
	Tasks  []struct {
		Name   string `json:"name"`
		Status string `json:"status"`
	} `json:"task_list"`
}

// show reads a job's state.
func (h *host) show(t testing.TB, id string) localJob {
	t.Helper()
	out := h.run(t, "local", "show", id, "--json", "--tail", "0")
	var j localJob
	if err := json.Unmarshal([]byte(out[strings.IndexByte(out, '{'):]), &j); err != nil {
		t.Fatalf("cajon.exe local show --json: %v\n%s", err, out)
	}
	return j
}

// runner is a `cajon.exe local run` working the host's queue until stopped.
type runner struct {
	cmd    *exec.Cmd
	out    *proctest.Output
	exited chan struct{}
	err    error
}

// startRunner starts `cajon.exe local run` with more flags.
func (h *host) startRunner(t testing.TB, flags ...string) *runner {
	t.Helper()
	r := &runner{out: &proctest.Output{}, exited: make(chan struct{})}
	r.cmd = env.Cajon(h.mark, h.args(append([]string{"local", "run", "--plain"}, flags...)...)...)
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.err = r.cmd.Wait(); close(r.exited) }()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("cajon.exe local run output:\n%s", r.out.String())
		}
	})
	return r
}

// wait waits for the runner to exit.
func (r *runner) wait(t testing.TB) error {
	t.Helper()
	select {
	case <-r.exited:
		return r.err
	case <-time.After(testwait.Limit):
		t.Fatalf("cajon.exe local run did not exit within %s:\n%s", testwait.Limit, r.out.String())
		return nil
	}
}

// TestLocalJob: a local job runs echo, a `cmd /c` through exec, and the file
// commands on drive-letter paths, under files.allowed_roots.
func TestLocalJob(t *testing.T) {
	env.Require(t)
	h := newHost(t)
	work := filepath.Join(h.dir, "work")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "in.txt"), []byte("frame 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w := func(rel string) string { return wine.WinPath(filepath.Join(work, filepath.FromSlash(rel))) }
	job := fmt.Sprintf(`name = "windows-local"

[[tasks]]
name = "hello"
  [[tasks.commands]]
  name = "echo"
  parameters = { message = "hello from cajon.exe" }

[[tasks]]
name = "cmd"
depends_on = ["hello"]
  [[tasks.commands]]
  name = "exec"
  parameters = { exe = "cmd", args = ["/c", 'echo cmd ran>%s'] }

[[tasks]]
name = "files"
depends_on = ["cmd"]
  [[tasks.commands]]
  name = "make-directory"
  parameters = { path = '%s' }
  [[tasks.commands]]
  name = "copy-file"
  parameters = { src = '%s', dest = '%s' }
  [[tasks.commands]]
  name = "move-directory"
  parameters = { src = '%s', dest = '%s' }
`, w("cmd.txt"), w("made/deep"), w("in.txt"), w("made/deep/copy.txt"), w("made"), w("moved"))
	id := h.submit(t, "job", job)
	r := h.startRunner(t, "--until-idle")
	if err := r.wait(t); err != nil {
		t.Fatalf("cajon.exe local run --until-idle: %v\n%s", err, r.out.String())
	}
	if j := h.show(t, id); j.Status != "completed" {
		t.Fatalf("job %s is %s, want completed: %+v\n%s", id, j.Status, j.Tasks, r.out.String())
	}
	for _, c := range []struct{ file, want string }{
		{"cmd.txt", "cmd ran"},
		{"moved/deep/copy.txt", "frame 1"},
	} {
		got, err := os.ReadFile(filepath.Join(work, filepath.FromSlash(c.file)))
		if err != nil || strings.TrimSpace(string(got)) != c.want {
			t.Errorf("%s: %q, %v; want %q", c.file, got, err, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(work, "made")); !os.IsNotExist(err) {
		t.Errorf("made/ is still there after move-directory: %v", err)
	}
	if logs := h.run(t, "local", "logs", id); !strings.Contains(logs, "hello from cajon.exe") || !strings.Contains(logs, "cmd") {
		t.Errorf("the echo is not in the job's log:\n%s", logs)
	}
	h.requireNoProcesses(t)
}
