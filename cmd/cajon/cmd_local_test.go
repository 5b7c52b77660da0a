//go:build unix

package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/internal/proctest"
	"github.com/cajonfarm/cajon/internal/testbin"
	_ "modernc.org/sqlite" // to age jobs in local.db
)

// binDir holds bin/cajon and its plugins (exec, testkit), built by TestMain
// for every end-to-end test of this package.
var binDir string

func TestMain(m *testing.M) { os.Exit(testbin.Main(m, &binDir, "exec", "testkit")) }

// cliEnvFor is an environment without the user's config: HOME and the config
// folder are the test's own, and no CAJON_* variable leaks in.
func cliEnvFor(t *testing.T) []string {
	home := t.TempDir()
	env := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"), "PATH=" + os.Getenv("PATH")}
	return env
}

// cajon is one test's view of the CLI: a state directory and environment.
type cajon struct {
	t     *testing.T
	state string
	env   []string
	dir   string
}

func newCajon(t *testing.T) *cajon {
	return &cajon{t: t, state: filepath.Join(t.TempDir(), "state"), env: cliEnvFor(t), dir: t.TempDir()}
}

// command prepares `cajon args... --state-dir STATE`.
func (c *cajon) command(ctx context.Context, args ...string) *exec.Cmd {
	args = append(args, "--state-dir", c.state)
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "cajon"), args...)
	cmd.Env = c.env
	cmd.Dir = c.dir
	return cmd
}

// run runs cajon to its end and returns stdout, stderr and the exit status.
func (c *cajon) run(args ...string) (string, string, int) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := c.command(ctx, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("cajon %s: %v", strings.Join(args, " "), err)
	}
	return stdout.String(), stderr.String(), code
}

// ok runs cajon and fails the test unless it exits 0.
func (c *cajon) ok(args ...string) string {
	c.t.Helper()
	out, errOut, code := c.run(args...)
	if code != 0 {
		c.t.Fatalf("cajon %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// submit submits a job file and returns its id.
func (c *cajon) submit(file string, flags ...string) string {
	c.t.Helper()
	id := strings.TrimSpace(c.ok(append([]string{"local", "submit", file}, flags...)...))
	if _, err := strconv.Atoi(id); err != nil {
		c.t.Fatalf("submit printed %q, not a job id", id)
	}
	return id
}

// writeJob writes a job file in the test's folder.
func (c *cajon) writeJob(name, content string) string {
	c.t.Helper()
	path := filepath.Join(c.dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		c.t.Fatal(err)
	}
	return path
}

// shownJob is what `local show --json` prints.
type shownJob struct {
	ID         int64     `json:"id"`
	Name       string    `json:"name"`
	State      string    `json:"state"`
	Status     string    `json:"status"`
	Run        int       `json:"run"`
	DueAt      time.Time `json:"due_at"`
	Message    string    `json:"message"`
	LastState  string    `json:"last_state"`
	StepsDone  int       `json:"steps_done"`
	StepsTotal int       `json:"steps_total"`
	RunnerGone int       `json:"runner_gone_pid"`
	Tasks      []struct {
		Name       string     `json:"name"`
		Status     string     `json:"status"`
		StepsDone  int        `json:"steps_done"`
		StepsTotal int        `json:"steps_total"`
		Pids       []int      `json:"pids"`
		Started    *time.Time `json:"started_at"`
		Finished   *time.Time `json:"finished_at"`
		Message    string     `json:"message"`
		LogPath    string     `json:"log_path"`
		RunnerGone int        `json:"runner_gone_pid"`
		Attempts   []struct {
			Run     int       `json:"run"`
			Status  string    `json:"status"`
			Started time.Time `json:"started_at"`
		} `json:"attempts"`
	} `json:"task_list"`
}

func (c *cajon) show(id string) *shownJob {
	c.t.Helper()
	var j shownJob
	out := c.ok("local", "show", id, "--json")
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		c.t.Fatalf("show --json: %v\n%s", err, out)
	}
	return &j
}

func (j *shownJob) task(t *testing.T, name string) int {
	t.Helper()
	for i := range j.Tasks {
		if j.Tasks[i].Name == name {
			return i
		}
	}
	t.Fatalf("job %d has no task %q", j.ID, name)
	return -1
}

// startRunner starts `cajon local run` in the background; its output may
// be read while it runs.
func (c *cajon) startRunner(args ...string) (*exec.Cmd, *proctest.Output) {
	c.t.Helper()
	cmd := c.command(context.Background(), append([]string{"local", "run"}, args...)...)
	out := &proctest.Output{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd, out
}

func TestLocalDemoJob(t *testing.T) {
	c := newCajon(t)
	demo, err := filepath.Abs(filepath.Join("..", "..", "examples", "jobs", "demo.toml"))
	if err != nil {
		t.Fatal(err)
	}
	id := c.submit(demo)
	if j := c.show(id); j.Status != "queued" || len(j.Tasks) != 4 {
		t.Fatalf("after submit: %+v", j)
	}
	_, runErr, code := c.run("local", "run", "--until-idle", "--slots", "2")
	if code != 0 {
		t.Fatalf("local run: exit %d\n%s", code, runErr)
	}
	if !strings.Contains(runErr, "task completed") {
		t.Errorf("no plain log lines without a terminal:\n%s", runErr)
	}
	j := c.show(id)
	if j.State != "completed" || j.StepsDone != j.StepsTotal || j.StepsTotal != 5 {
		t.Errorf("job %+v", j)
	}
	for _, tk := range j.Tasks {
		if tk.Status != "completed" || len(tk.Attempts) != 1 {
			t.Errorf("task %s: %s, %d attempts", tk.Name, tk.Status, len(tk.Attempts))
		}
	}
	// Dependencies: hello first, goodbye last.
	at := func(name string) (time.Time, time.Time) {
		tk := j.Tasks[j.task(t, name)]
		return *tk.Started, *tk.Finished
	}
	_, helloEnd := at("hello")
	countStart, countEnd := at("count")
	napStart, napEnd := at("nap")
	byeStart, _ := at("goodbye")
	if countStart.Before(helloEnd) || napStart.Before(helloEnd) || byeStart.Before(countEnd) || byeStart.Before(napEnd) {
		t.Errorf("dependency order broken: hello ended %v; count %v-%v; nap %v-%v; goodbye started %v",
			helloEnd, countStart, countEnd, napStart, napEnd, byeStart)
	}
	// Slots: count and nap ran side by side.
	if !(countStart.Before(napEnd) && napStart.Before(countEnd)) {
		t.Errorf("with --slots 2, count (%v-%v) and nap (%v-%v) did not overlap", countStart, countEnd, napStart, napEnd)
	}

	if out := c.ok("local", "logs", id, "count"); !strings.Contains(out, "frame 5 of 5: tapping the cajon") || !strings.Contains(out, `task "count" completed`) {
		t.Errorf("logs of count:\n%s", out)
	}
	if out := c.ok("local", "logs", id); !strings.Contains(out, `==> task "goodbye"`) || !strings.Contains(out, "Goodbye") {
		t.Errorf("logs of the job:\n%s", out)
	}
	if _, errOut, code := c.run("local", "logs", id, "nope"); code == 0 || !strings.Contains(errOut, `no task "nope"`) {
		t.Errorf("logs of a missing task: %d %s", code, errOut)
	}
	show := c.ok("local", "show", id)
	for _, want := range []string{`Job ` + id + ` "demo": COMPLETED`, "goodbye", "count, nap", "5 of 5 steps"} {
		if !strings.Contains(show, want) {
			t.Errorf("show lacks %q:\n%s", want, show)
		}
	}
	if list := c.ok("local", "list"); !strings.Contains(list, "demo") || !strings.Contains(list, "4/4 completed") {
		t.Errorf("list:\n%s", list)
	}
}

func TestLocalSubmitRejectsBadFiles(t *testing.T) {
	c := newCajon(t)
	tests := []struct {
		name, content string
		want          []string
	}{
		{"unknown-command.toml", "name = \"j\"\n[[tasks]]\nname = \"greet\"\n[[tasks.commands]]\nname = \"ecco\"\n",
			[]string{"unknown-command.toml", "line 4", `task "greet"`, `no plugin provides command "ecco"`}},
		{"missing-param.toml", "name = \"j\"\n[[tasks]]\nname = \"greet\"\n[[tasks.commands]]\nname = \"echo\"\n",
			[]string{"missing-param.toml", `command "echo"`, "message"}},
		{"cycle.toml", "name = \"j\"\n" +
			"[[tasks]]\nname = \"a\"\ndepends_on = [\"b\"]\n[[tasks.commands]]\nname = \"echo\"\nparameters = { message = \"a\" }\n" +
			"[[tasks]]\nname = \"b\"\ndepends_on = [\"a\"]\n[[tasks.commands]]\nname = \"echo\"\nparameters = { message = \"b\" }\n",
			[]string{"cycle.toml", "dependency cycle: a -> b -> a"}},
		{"unknown-key.toml", "name = \"j\"\nslots = 3\n", []string{"unknown-key.toml", "line 2", `unknown key "slots"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := c.run("local", "submit", c.writeJob(tt.name, tt.content))
			if code == 0 || out != "" {
				t.Fatalf("exit %d, stdout %q", code, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
		})
	}
	if out := c.ok("local", "list", "--json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("something was stored: %s", out)
	}
	for _, args := range [][]string{
		{"local", "submit", "missing.toml"},
		{"local", "submit"},
		{"local", "submit", "x.toml", "--at", "yesterday"},
		{"local", "submit", "x.toml", "--every", "10ms"},
		{"local", "show", "abc"},
		{"local", "show", "42"},
		{"local", "cancel", "42"},
		{"local", "frobnicate"},
	} {
		if _, errOut, code := c.run(args...); code == 0 || errOut == "" {
			t.Errorf("cajon %s: exit %d, stderr %q", strings.Join(args, " "), code, errOut)
		}
	}
}

func TestLocalHelp(t *testing.T) {
	c := newCajon(t)
	for _, sub := range []string{"submit", "list", "show", "logs", "cancel", "run", "prune"} {
		_, errOut, code := c.run("local", sub, "--help")
		if code != 0 || !strings.Contains(errOut, "Usage: cajon local "+sub) {
			t.Errorf("local %s --help: exit %d\n%s", sub, code, errOut)
		}
	}
	if _, errOut, code := c.run("local", "--help"); code != 0 || !strings.Contains(errOut, "submit") {
		t.Errorf("local --help: exit %d\n%s", code, errOut)
	}
	if _, errOut, code := c.run("config", "--help"); code != 0 || !strings.Contains(errOut, "Usage: cajon config") {
		t.Errorf("config --help: exit %d\n%s", code, errOut)
	}
}

func TestConfigCommand(t *testing.T) {
	c := newCajon(t)
	c.env = append(c.env, "CAJON_LOCAL_SLOTS=3")
	out := c.ok("config")
	for _, want := range []string{"state_dir = '" + c.state + "'", "[local]", "slots = 3", "CAJON_LOCAL_SLOTS",
		"#worker_name = ''", "the host name at start"} {
		if !strings.Contains(out, want) {
			t.Errorf("cajon config lacks %q:\n%s", want, out)
		}
	}
	if host, err := os.Hostname(); err == nil && strings.Contains(out, "worker_name = '"+host+"'") {
		t.Errorf("cajon config froze the host name into worker_name:\n%s", out)
	}
}

func TestLocalFailureIsShown(t *testing.T) {
	c := newCajon(t)
	id := c.submit(c.writeJob("fail.toml", `name = "doomed"
[[tasks]]
name = "render"
  [[tasks.commands]]
  name = "test-fail"
  parameters = { message = "out of cheese" }
[[tasks]]
name = "encode"
depends_on = ["render"]
  [[tasks.commands]]
  name = "echo"
  parameters = { message = "never" }
`))
	_, errOut, code := c.run("local", "run", "--until-idle")
	if code != 1 || !strings.Contains(errOut, "1 job failed: "+id) {
		t.Errorf("local run: exit %d, want 1\n%s", code, errOut)
	}
	show := c.ok("local", "show", id)
	for _, want := range []string{"FAILED", `task "render" failed`, "out of cheese", "skipped", `not run: task "render" failed`, `Log of "render"`} {
		if !strings.Contains(show, want) {
			t.Errorf("show lacks %q:\n%s", want, show)
		}
	}
}

func TestLocalScheduled(t *testing.T) {
	c := newCajon(t)
	job := c.writeJob("later.toml", "name = \"later\"\n[[tasks]]\nname = \"t\"\n[[tasks.commands]]\nname = \"echo\"\nparameters = { message = \"now\" }\n")
	// An hour: far beyond what a busy machine takes for the next steps.
	id := c.submit(job, "--at", "+1h")
	c.ok("local", "run", "--until-idle")
	j := c.show(id)
	if j.Status != "scheduled" || len(j.Tasks[0].Attempts) != 0 {
		t.Fatalf("ran before its time: %+v", j)
	}
	// Its time comes: the due time moves into the past.
	c.sql(`UPDATE jobs SET due_at = ? WHERE id = ?`, time.Now().Add(-time.Second).UnixNano(), id)
	j = c.show(id)
	c.ok("local", "run", "--until-idle")
	j2 := c.show(id)
	if j2.State != "completed" || len(j2.Tasks[0].Attempts) != 1 {
		t.Fatalf("after its time: %+v", j2)
	}
	if started := j2.Tasks[0].Attempts[0].Started; started.Before(j.DueAt) {
		t.Errorf("started %v, before it was due at %v", started, j.DueAt)
	}
}

func TestLocalRecurring(t *testing.T) {
	c := newCajon(t)
	job := c.writeJob("tick.toml", "name = \"tick\"\n[[tasks]]\nname = \"t\"\n[[tasks.commands]]\nname = \"echo\"\nparameters = { message = \"tick\" }\n")
	// An hour: the second run never comes during the test, however slow
	// the machine.
	id := c.submit(job, "--every", "1h")
	out, errOut, code := c.run("local", "submit", job, "--every", "1h")
	if code == 0 || out != "" || !strings.Contains(errOut, "already in the queue as job "+id) {
		t.Errorf("duplicate recurring job: exit %d, stdout %q\n%s", code, out, errOut)
	}
	c.ok("local", "run", "--until-idle")
	j := c.show(id)
	if j.Status != "scheduled" || j.Run != 2 || j.LastState != "completed" || j.Tasks[0].Status != "queued" {
		t.Fatalf("after the first run: %+v", j)
	}
	if a := j.Tasks[0].Attempts; len(a) != 1 || a[0].Status != "completed" || !j.DueAt.After(a[0].Started) {
		t.Errorf("attempts %+v, next due %v", a, j.DueAt)
	}
	if list := c.ok("local", "list"); !strings.Contains(list, "every 1h, run 2, last run completed") {
		t.Errorf("list:\n%s", list)
	}
	// The first run's log stays readable after the job re-armed.
	if out := c.ok("local", "logs", id, "t", "--run", "1"); !strings.Contains(out, "tick") {
		t.Errorf("logs --run 1:\n%s", out)
	}
	if _, errOut, code := c.run("local", "logs", id, "t", "--run", "2"); code == 0 || !strings.Contains(errOut, "no log of run 2") {
		t.Errorf("logs --run 2 (armed, not run): exit %d\n%s", code, errOut)
	}
	if _, errOut, code := c.run("local", "logs", id, "--run", "3"); code != 2 || !strings.Contains(errOut, "has had runs 1 to 2") {
		t.Errorf("logs --run 3: exit %d\n%s", code, errOut)
	}
	c.ok("local", "cancel", id)
	if j := c.show(id); j.State != "canceled" {
		t.Errorf("after cancel: %+v", j)
	}
}

// sql changes local.db as a test needs (times moved, as if they had
// passed) and returns how many rows it changed.
func (c *cajon) sql(query string, args ...any) int64 {
	c.t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(c.state, "local.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		c.t.Fatal(err)
	}
	defer db.Close()
	res, err := db.Exec(query, args...)
	if err != nil {
		c.t.Fatal(err)
	}
	n, _ := res.RowsAffected()
	return n
}

// ageJob moves the end of a finished job back by ago, as if it had ended then.
func (c *cajon) ageJob(id string, ago time.Duration) {
	c.t.Helper()
	if n := c.sql(`UPDATE jobs SET finished_at = finished_at - ? WHERE id = ? AND finished_at IS NOT NULL`, int64(ago), id); n != 1 {
		c.t.Fatalf("job %s has not finished", id)
	}
}

func TestLocalPrune(t *testing.T) {
	c := newCajon(t)
	echo := "name = \"%s\"\n[[tasks]]\nname = \"t\"\n[[tasks.commands]]\nname = \"echo\"\nparameters = { message = \"hi\" }\n"
	later := c.submit(c.writeJob("later.toml", fmt.Sprintf(echo, "later")), "--at", "+1h")
	old := c.submit(c.writeJob("old.toml", fmt.Sprintf(echo, "old")))
	c.ok("local", "run", "--until-idle")
	logDir := filepath.Join(c.state, "logs", "local-"+old)
	if _, err := os.Stat(logDir); err != nil {
		t.Fatalf("no task log before the prune: %v", err)
	}

	tests := []struct {
		name    string
		env     []string
		args    []string
		age     time.Duration // moves the job's end back first
		code    int
		stdout  string
		stderr  string
		removed bool
	}{
		{"default keeps a new job", nil, nil, 0, 0, "removed 0 jobs: none finished before", "", false},
		{"bad duration", nil, []string{"--older-than", "soon"}, 0, 2, "", `invalid duration "soon"`, false},
		{"zero", nil, []string{"--older-than", "0"}, 0, 2, "", "must be more than 0", false},
		{"keep forever", []string{"CAJON_LOCAL_KEEP_FINISHED=0s"}, nil, 40 * 24 * time.Hour, 0, "nothing removed: local.keep_finished is 0", "", false},
		{"younger than --older-than", nil, []string{"--older-than", "50d"}, 0, 0, "removed 0 jobs", "", false},
		{"default keep_finished", nil, nil, 0, 0, "removed 1 job that finished before", "with 1 log file", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.age > 0 {
				c.ageJob(old, tt.age)
			}
			env := c.env
			c.env = append(slices.Clone(env), tt.env...)
			defer func() { c.env = env }()
			stdout, stderr, code := c.run(append([]string{"local", "prune"}, tt.args...)...)
			if code != tt.code || !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr, tt.stderr) {
				t.Fatalf("exit %d, want %d\nstdout (want %q):\n%s\nstderr (want %q):\n%s", code, tt.code, tt.stdout, stdout, tt.stderr, stderr)
			}
			if tt.removed && !strings.HasSuffix(strings.TrimSpace(stdout), "ago): "+old) {
				t.Errorf("stdout does not end with the removed id %s:\n%s", old, stdout)
			}
			_, showErr, showCode := c.run("local", "show", old)
			if gone := showCode != 0 && strings.Contains(showErr, "not in the local queue"); gone != tt.removed {
				t.Errorf("job %s removed = %v, want %v (show: exit %d, %s)", old, gone, tt.removed, showCode, showErr)
			}
			if _, err := os.Stat(logDir); os.IsNotExist(err) != tt.removed {
				t.Errorf("log folder %s removed = %v, want %v", logDir, os.IsNotExist(err), tt.removed)
			}
		})
	}
	if j := c.show(later); j.Status != "scheduled" {
		t.Errorf("the scheduled job after the prunes: %+v", j)
	}
	// The pruned job had the highest id: a new job must not get it back.
	next := c.submit(c.writeJob("next.toml", fmt.Sprintf(echo, "next")))
	if n, _ := strconv.Atoi(next); n <= mustAtoi(t, old) {
		t.Errorf("job submitted after the prune got id %s; the removed job had %s", next, old)
	}

	// `local run` prunes at start by itself.
	c.ok("local", "run", "--until-idle")
	c.ageJob(next, 2*time.Hour)
	c.env = append(c.env, "CAJON_LOCAL_KEEP_FINISHED=1h")
	_, runErr, code := c.run("local", "run", "--until-idle")
	if code != 0 || !strings.Contains(runErr, "removed finished jobs") || !strings.Contains(runErr, "jobs=1") {
		t.Errorf("local run with keep_finished 1h: exit %d\n%s", code, runErr)
	}
	if _, _, code := c.run("local", "show", next); code == 0 {
		t.Errorf("job %s was not removed by local run", next)
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestLocalStoreOpenErrors: a queue that cannot be opened is reported with
// the file and the cause, not SQLite's "unable to open database file (14)".
func TestLocalStoreOpenErrors(t *testing.T) {
	t.Run("the database is a folder", func(t *testing.T) {
		c := newCajon(t)
		if err := os.MkdirAll(filepath.Join(c.state, "local.db"), 0o700); err != nil {
			t.Fatal(err)
		}
		db := filepath.Join(c.state, "local.db")
		want := "cajon local list: local job store: " + db + ": it is a folder, not a database file: move it away, and a new database is made (open " + db + ": is a directory)\n"
		if _, errOut, code := c.run("local", "list"); code != 1 || errOut != want {
			t.Errorf("exit %d, stderr\n%s\nwant exit 1 and\n%s", code, errOut, want)
		}
	})
	t.Run("the state directory is read-only", func(t *testing.T) {
		c := newCajon(t)
		c.ok("local", "list") // makes the queue
		cmd := c.command(t.Context(), "local", "list")
		if os.Geteuid() == 0 {
			// Root writes anywhere: list as nobody, in a folder only root
			// may write to. Everything it reads must be open to others.
			runAsNobody(t, cmd, c)
			if err := os.Chmod(filepath.Join(c.state, "local.db"), 0o666); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(c.state, 0o755); err != nil {
				t.Fatal(err)
			}
		} else {
			if err := os.Chmod(c.state, 0o500); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Chmod(c.state, 0o700) })
		}
		out, _ := cmd.CombinedOutput()
		db := filepath.Join(c.state, "local.db")
		want := "cajon local list: local job store: " + db + ": its folder " + c.state + " is not writable: permission denied " +
			"(SQLite keeps its -wal and -shm files beside the database; check state_dir and the folder's permissions) ("
		if !strings.HasPrefix(string(out), want) || strings.Contains(string(out), "unable to open database file") {
			t.Errorf("stderr\n%s\nwant it to start with\n%s", out, want)
		}
	})
}

// runAsNobody makes cmd run as the user nobody, with a home of its own, and
// opens to others the folders it must read.
func runAsNobody(t *testing.T, cmd *exec.Cmd, c *cajon) {
	t.Helper()
	const nobody = 65534
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	home := filepath.Join(filepath.Dir(c.state), "nobody-home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd.Env = []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"), "PATH=" + os.Getenv("PATH")}
	cmd.Dir = home
	for _, dir := range []string{binDir, filepath.Join(binDir, "plugins"), filepath.Dir(c.state), filepath.Dir(filepath.Dir(c.state))} {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}
