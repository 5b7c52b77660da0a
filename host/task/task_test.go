package task_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/plugins"
	"github.com/cajonfarm/cajon/host/task"
	"github.com/cajonfarm/cajon/internal/testbin"
)

var pluginDir string

func TestMain(m *testing.M) {
	if runtime.GOOS != "linux" {
		fmt.Println("host/task tests run real plugins: Linux only")
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "cajon-task-test-")
	if err != nil {
		panic(err)
	}
	if err := testbin.Build(dir, "exec", "testkit"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pluginDir = filepath.Join(dir, "plugins")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// recorder is a task.Reporter that keeps everything.
type recorder struct {
	lines    []string
	steps    []int
	activity []string
	outputs  []string
}

func (r *recorder) Log(lines []string) { r.lines = append(r.lines, lines...) }
func (r *recorder) Progress(steps int, activity string) {
	if steps >= 0 {
		r.steps = append(r.steps, steps)
	}
	if activity != "" {
		r.activity = append(r.activity, activity)
	}
}
func (r *recorder) Output(path, _ string) { r.outputs = append(r.outputs, path) }
func (r *recorder) Child(int, bool)       {}

func TestRunner(t *testing.T) {
	reg, err := plugins.Open(context.Background(), plugins.Options{Dirs: []string{pluginDir}})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	runner := &task.Runner{Commands: reg}
	cases := []struct {
		name      string
		commands  []task.Command
		status    task.Status
		message   string
		lastSteps int
		activity  string   // the last activity, if set
		logged    []string // lines in the task log
		maxSteps  int
	}{
		{
			name: "steps add up across commands",
			commands: []task.Command{
				{Name: "echo", Params: map[string]any{"message": "one"}},                // no steps: counts 1
				{Name: "test-steps", Params: map[string]any{"count": 3}, TotalSteps: 3}, // 3 steps
				{Name: "echo", Params: map[string]any{"message": "two"}},
			},
			status: task.Completed, lastSteps: 5, maxSteps: 5,
		},
		{
			name: "a command reporting more steps than declared is clamped",
			commands: []task.Command{
				{Name: "test-steps", Params: map[string]any{"count": 4}, TotalSteps: 2},
				{Name: "echo", Params: map[string]any{"message": "x"}},
			},
			status: task.Completed, lastSteps: 3, maxSteps: 3,
		},
		{
			name: "the first failure stops the task and names the command",
			commands: []task.Command{
				{Name: "echo", Params: map[string]any{"message": "before"}},
				{Name: "test-fail", Params: map[string]any{"message": "disk on fire"}},
				{Name: "echo", Params: map[string]any{"message": "never"}},
			},
			status: task.Failed, message: `command "test-fail" failed: disk on fire`, lastSteps: 1, maxSteps: 1,
		},
		{
			name:     "a bad parameter fails with its name",
			commands: []task.Command{{Name: "sleep", Params: map[string]any{"duration_in_seconds": "soon"}}},
			status:   task.Failed, message: `parameter "duration_in_seconds": expected a number`,
		},
		{
			name: "warnings complete the task and show in its activity",
			commands: []task.Command{
				{Name: "test-warn", Params: map[string]any{"warnings": []any{"texture missing", "slow disk"}}},
				{Name: "echo", Params: map[string]any{"message": "after"}},
			},
			status: task.Completed, lastSteps: 2, maxSteps: 2,
			activity: "completed with 2 warnings: texture missing",
			logged:   []string{"WARNING: texture missing", `cajon: command "test-warn" completed with 2 warnings: texture missing; slow disk`},
		},
		{
			name: "a failure's warnings are logged too",
			commands: []task.Command{
				{Name: "test-warn", Params: map[string]any{"warnings": []any{"texture missing"}, "fail": "no frame"}},
			},
			status: task.Failed, message: `command "test-warn" failed: no frame`,
			logged: []string{`cajon: command "test-warn" failed with 1 warning: texture missing`},
		},
		{
			name:     "an unknown command fails",
			commands: []task.Command{{Name: "teleport"}},
			status:   task.Failed, message: `no plugin provides command "teleport"`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var rec recorder
			tk := task.Task{ID: "t1", JobID: "j1", Name: tc.name, Commands: tc.commands}
			out := runner.Run(context.Background(), tk, &rec)
			if out.Status != tc.status || !strings.Contains(out.Message, tc.message) {
				t.Fatalf("outcome %v %q, want %v containing %q", out.Status, out.Message, tc.status, tc.message)
			}
			if out.StepsCompleted != tc.lastSteps {
				t.Errorf("steps completed %d, want %d", out.StepsCompleted, tc.lastSteps)
			}
			for i, s := range rec.steps {
				if s > tc.maxSteps || (i > 0 && s < rec.steps[i-1]) {
					t.Errorf("steps went %v: must rise and stay within %d", rec.steps, tc.maxSteps)
					break
				}
			}
			if tc.status == task.Failed && !strings.Contains(strings.Join(rec.lines, "\n"), tc.message) {
				t.Errorf("the failure is not in the task log:\n%s", strings.Join(rec.lines, "\n"))
			}
			if tc.activity != "" && (len(rec.activity) == 0 || rec.activity[len(rec.activity)-1] != tc.activity) {
				t.Errorf("activities %q, want the last to be %q", rec.activity, tc.activity)
			}
			for _, l := range tc.logged {
				if !slices.Contains(rec.lines, l) {
					t.Errorf("the task log lacks %q:\n%s", l, strings.Join(rec.lines, "\n"))
				}
			}
			if tk.StepsTotal() < out.StepsCompleted {
				t.Errorf("steps completed %d above steps total %d", out.StepsCompleted, tk.StepsTotal())
			}
		})
	}
}

func TestCanceledBeforeStart(t *testing.T) {
	reg, err := plugins.Open(context.Background(), plugins.Options{Dirs: []string{pluginDir}})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := (&task.Runner{Commands: reg}).Run(ctx, task.Task{Commands: []task.Command{{Name: "echo", Params: map[string]any{"message": "x"}}}}, &recorder{})
	if out.Status != task.Canceled {
		t.Fatalf("got %v", out)
	}
}

// TestPluginUnitsScaleOntoTaskSteps runs a command that reports its progress
// in bytes: the task's steps fill up in proportion, not all at the first
// chunk, and the plugin is told the task's step count.
func TestPluginUnitsScaleOntoTaskSteps(t *testing.T) {
	reg, err := plugins.Open(context.Background(), plugins.Options{Dirs: []string{pluginDir}})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	var rec recorder
	tk := task.Task{ID: "t1", JobID: "j1", Commands: []task.Command{
		{Name: "test-bytes", Params: map[string]any{"size": 10 << 20, "chunk": 1 << 20}, TotalSteps: 4},
	}}
	out := (&task.Runner{Commands: reg}).Run(context.Background(), tk, &rec)
	if out.Status != task.Completed || out.StepsCompleted != 4 {
		t.Fatalf("outcome %+v, want completed with 4 steps", out)
	}
	// Start, then floor(MiB done * 4 / 10) for each of the 10 chunks, then the
	// end of the command.
	want := []int{0, 0, 0, 1, 1, 2, 2, 2, 3, 3, 4, 4}
	if fmt.Sprint(rec.steps) != fmt.Sprint(want) {
		t.Errorf("steps went %v, want %v", rec.steps, want)
	}
	if !slices.Contains(rec.lines, "total_steps=4") {
		t.Errorf("the plugin was not told the task's step count; log:\n%s", strings.Join(rec.lines, "\n"))
	}
}

// childRecorder also keeps child processes.
type childRecorder struct {
	recorder
	children []string
}

func (r *childRecorder) Child(pid int, exited bool) {
	r.children = append(r.children, fmt.Sprintf("%d exited=%v", pid, exited))
}

// A command's events reach the Reporter with its progress scaled onto the
// task's steps, and the way it ended is read from its status.
func TestRunnerEvents(t *testing.T) {
	cases := []struct {
		name     string
		send     func(plugins.Events)
		res      plugins.Result
		status   task.Status
		message  string
		steps    string // reported after the command started
		lines    string
		outputs  string
		children string
	}{
		{
			name: "every kind of event",
			send: func(e plugins.Events) {
				e.Log([]string{"a", "b"})
				e.Child(plugins.ChildProcess{PID: 7})
				e.Progress(plugins.Progress{HasSteps: true, StepsDone: 5, StepsTotal: 10, Activity: "half"})
				e.Progress(plugins.Progress{Activity: "activity only"})
				e.Output(plugins.Output{Path: "/out/0001.png", MIMEType: "image/png"})
				e.Child(plugins.ChildProcess{PID: 7, Exited: true, ExitCode: 0})
			},
			res:    plugins.Result{Status: plugins.Completed},
			status: task.Completed, steps: "[3 5]", lines: "a|b", outputs: "[/out/0001.png]", children: "[7 exited=false 7 exited=true]",
		},
		{
			name:   "a plain abort is said once",
			res:    plugins.Result{Status: plugins.Canceled},
			status: task.Canceled, message: `command "cmd" aborted`, steps: "[]",
		},
		{
			name:   "an abort that went wrong says why",
			res:    plugins.Result{Status: plugins.Canceled, Message: "could not remove the scratch folder"},
			status: task.Canceled, message: `command "cmd" aborted: could not remove the scratch folder`, steps: "[]",
		},
		{
			name:   "a failure names the command",
			res:    plugins.Result{Status: plugins.Failed, Message: "disk on fire"},
			status: task.Failed, message: `command "cmd" failed: disk on fire`, steps: "[]",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var rec childRecorder
			tk := task.Task{ID: "t1", Commands: []task.Command{
				{Name: "first", TotalSteps: 1},
				{Name: "cmd", TotalSteps: 4},
			}}
			first := true
			runner := &task.Runner{Commands: runnerFunc(func(_ context.Context, _ plugins.Request, events plugins.Events) plugins.Result {
				if first { // the first command completes without events
					first = false
					return plugins.Result{Status: plugins.Completed}
				}
				if tc.send != nil {
					tc.send(events)
				}
				return tc.res
			})}
			out := runner.Run(context.Background(), tk, &rec)
			if out.Status != tc.status || out.Message != tc.message {
				t.Errorf("outcome %v %q, want %v %q", out.Status, out.Message, tc.status, tc.message)
			}
			// The task's own reports come first: 0 and 1 around the first
			// command, 1 as the second starts.
			if got := fmt.Sprint(rec.steps[3:]); len(rec.steps) < 3 || got != tc.steps {
				t.Errorf("steps %v, want [0 1 1] then %s", rec.steps, tc.steps)
			}
			var plugin []string // the lines the plugin sent, without the task's own
			for _, l := range rec.lines {
				if !strings.HasPrefix(l, "cajon: ") {
					plugin = append(plugin, l)
				}
			}
			if got := strings.Join(plugin, "|"); got != tc.lines {
				t.Errorf("lines %q, want %q", got, tc.lines)
			}
			if tc.outputs != "" && fmt.Sprint(rec.outputs) != tc.outputs {
				t.Errorf("outputs %v, want %s", rec.outputs, tc.outputs)
			}
			if tc.children != "" && fmt.Sprint(rec.children) != tc.children {
				t.Errorf("children %v, want %s", rec.children, tc.children)
			}
			if tc.message != "" && !slices.Contains(rec.lines, "cajon: "+tc.message) {
				t.Errorf("the task log does not say %q:\n%s", tc.message, strings.Join(rec.lines, "\n"))
			}
		})
	}
}

// runnerFunc is a CommandRunner of a func.
type runnerFunc func(context.Context, plugins.Request, plugins.Events) plugins.Result

func (f runnerFunc) Run(ctx context.Context, req plugins.Request, events plugins.Events) plugins.Result {
	return f(ctx, req, events)
}

// abortOnChild cancels the task once its command has started a process.
type abortOnChild struct {
	recorder
	cancel context.CancelFunc
}

func (a *abortOnChild) Child(_ int, exited bool) {
	if !exited {
		a.cancel()
	}
}

// A real plugin's plain abort ends the task with the abort said once: the
// SDK leaves the message empty and the runner reads the status.
func TestAbortThroughPlugin(t *testing.T) {
	reg, err := plugins.Open(context.Background(), plugins.Options{Dirs: []string{pluginDir}})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rep := &abortOnChild{cancel: cancel}
	tk := task.Task{ID: "t1", JobID: "j1", Commands: []task.Command{
		{Name: "exec", Params: map[string]any{"exe": "sleep", "args": []any{"600"}}},
	}}
	out := (&task.Runner{Commands: reg}).Run(ctx, tk, rep)
	if out.Status != task.Canceled || out.Message != `command "exec" aborted` {
		t.Fatalf("outcome %v %q, want canceled %q", out.Status, out.Message, `command "exec" aborted`)
	}
}

// TestAPluginThatNoLongerStartsFailsWithItsStderr: a plugin described earlier
// (the description cache) that dies when a command needs it fails the task
// with the end of its stderr, in the task log too.
func TestAPluginThatNoLongerStartsFailsWithItsStderr(t *testing.T) {
	root, err := testbin.Root()
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join(root, "host", "plugins", "testdata", "dies-at-start.sh"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cajon-plugin-exec"), script, 0o755); err != nil {
		t.Fatal(err)
	}
	opts := plugins.Options{Dirs: []string{dir}, DescribeCache: filepath.Join(t.TempDir(), "described.json")}
	t.Setenv("DIES_LINES", "2")
	t.Setenv("DIES_REAL", filepath.Join(pluginDir, "cajon-plugin-exec")) // describes itself as exec
	reg, err := plugins.Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	reg.Close()
	t.Setenv("DIES_REAL", "") // from now on it dies at start
	if reg, err = plugins.Open(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	rec := &recorder{}
	out := (&task.Runner{Commands: reg}).Run(context.Background(), task.Task{Commands: []task.Command{{Name: "echo", Params: map[string]any{"message": "x"}}}}, rec)
	if out.Status != task.Failed || !strings.Contains(out.Message, "did not start") || !strings.HasSuffix(out.Message, "\n    line 2 of 2") {
		t.Fatalf("outcome %v: %q", out.Status, out.Message)
	}
	if n := len(rec.lines); n == 0 || rec.lines[n-1] != "cajon: "+out.Message {
		t.Fatalf("task log %q", rec.lines)
	}
}

// The runner's guard reaches every command (the local queue and each
// Manager identity run tasks through a Runner): a silent sleep past the
// stall timeout fails its task naming the stall, not as an abort.
func TestRunnerGuardFailsAStalledCommand(t *testing.T) {
	reg, err := plugins.Open(context.Background(), plugins.Options{Dirs: []string{pluginDir}})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	tk := task.Task{ID: "t1", JobID: "j1", Commands: []task.Command{
		{Name: "exec", Params: map[string]any{"exe": "sleep", "args": []any{"600"}}},
	}}
	runner := &task.Runner{Commands: reg, Grace: 200 * time.Millisecond, Guard: plugins.Guard{StallTimeout: time.Second}}
	rep := &recorder{}
	out := runner.Run(context.Background(), tk, rep)
	if out.Status != task.Failed || !strings.Contains(out.Message, "stalled: no output and no CPU time") {
		t.Fatalf("outcome %v %q, want failed for the stall", out.Status, out.Message)
	}
	// The command's part of the log ends with its peak memory; the
	// runner's line saying why the task failed comes after it.
	if n := len(rep.lines); n < 2 || !strings.HasPrefix(rep.lines[n-2], "cajon: peak memory of the command's processes: ") {
		t.Errorf("the command's log does not end with its peak memory:\n%s", strings.Join(rep.lines, "\n"))
	}
}
