package jobfile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"
)

func TestParseGoodJob(t *testing.T) {
	path := filepath.Join("testdata", "jobs", "good", "echo-sleep.toml")
	job, err := ReadJobFile(context.Background(), path, registry(t))
	if err != nil {
		t.Fatal(err)
	}
	want := &Job{Name: "echo-sleep", Priority: 60, Tasks: []Task{
		{Name: "echo", Type: "misc", Commands: []Command{{Name: "echo", Parameters: map[string]any{"message": "hello"}}}},
		{Name: "sleep", Type: "misc", DependsOn: []string{"echo"}, Commands: []Command{
			{Name: "sleep", Parameters: map[string]any{"duration_in_seconds": 0.1}, TotalStepCount: 2},
			{Name: "echo", Parameters: map[string]any{"message": "slept"}},
		}},
	}}
	// Lines are for messages only.
	for i := range job.Tasks {
		if job.Tasks[i].line == 0 {
			t.Errorf("task %d: no line", i)
		}
		job.Tasks[i].line = 0
		for j := range job.Tasks[i].Commands {
			job.Tasks[i].Commands[j].line = 0
		}
	}
	if !reflect.DeepEqual(job, want) {
		t.Errorf("parsed\n%+v\nwant\n%+v", job, want)
	}
	if got := job.Tasks[1].StepsTotal(); got != 3 {
		t.Errorf("StepsTotal = %d, want 3", got)
	}
}

func TestMalformedJobFiles(t *testing.T) {
	tests := []struct {
		file string
		// every string must be in the error
		want []string
	}{
		{"syntax.toml", []string{"line 1", "column"}},
		{"empty.toml", []string{"has no name", "has no tasks"}},
		{"no_tasks.toml", []string{"has no tasks"}},
		{"unknown_top_key.toml", []string{"line 1", `unknown key "nmae"`}},
		{"unknown_task_key.toml", []string{"line 5", `unknown key "tasks.dependson"`}},
		{"parameter_as_command_key.toml", []string{"line 7", `unknown key "tasks.commands.message"`, "is it a parameter?"}},
		{"wrong_type_priority.toml", []string{"line 2", "priority must be an integer, not a TOML string"}},
		{"wrong_type_depends_on.toml", []string{"line 11", "depends_on must be a list of task names"}},
		{"wrong_type_parameters.toml", []string{"line 7", "parameters must be a table"}},
		{"duplicate_task.toml", []string{"line 9", `task "render"`, "another task (#1) has the same name"}},
		{"unknown_dependency.toml", []string{"line 3", `task "encode"`, `depends_on names "rendr", which is not a task of this job (tasks: encode, render)`}},
		{"cycle.toml", []string{"line 3", "dependency cycle: a -> c -> b -> a"}},
		{"self_dependency.toml", []string{`task "a"`, "depends on itself"}},
		{"duplicate_dependency.toml", []string{`task "b"`, `depends_on lists "a" twice`}},
		{"no_commands.toml", []string{"line 3", `task "idle"`, "has no commands"}},
		{"no_names.toml", []string{"the job has no name", `task "#1"`, "the task has no name", `command "#1"`, "the command has no name"}},
		{"priority_range.toml", []string{"priority 101 is out of range"}},
		{"nan_parameter.toml", []string{"line 5", `command "sleep"`, "duration_in_seconds: NaN is not a usable number"}},
		{"date_parameter.toml", []string{`command "echo"`, "message: dates and times are not parameter values"}},
		{"negative_steps.toml", []string{"total_step_count -3 is out of range"}},
		{"unknown_inline_keys.toml", []string{"has 2 problems", `line 3: unknown key "tasks.dependson"`, `line 4: unknown key "tasks.commands.mesage"`}},
		{"unknown_table.toml", []string{"line 9", `unknown key "tasks.options"`}},
		{"deep_parameter.toml", []string{"line 5", `command "echo"`, "parameter extra.a.a.", "nested more than 32 levels deep"}},
		{"many_problems.toml", []string{"has 60 problems; the first 50:", `task "t49"`, `(tasks: t0, t1, t2, t3, t4, t5, t6, t7, t8, t9 and 50 more)`}},
		// Checked against the plugins.
		{"unknown_command.toml", []string{"line 5", `task "greet"`, `no plugin provides command "ecco"`, "echo"}},
		{"missing_parameter.toml", []string{"line 5", `task "greet", command "echo"`, "message"}},
		{"wrong_parameter_type.toml", []string{`task "wait", command "sleep"`, "duration_in_seconds", "expected a number"}},
		{"unknown_parameter.toml", []string{`command "echo"`, "mesage"}},
		{"unknown_task_type.toml", []string{"line 3", `type "blendr" is not a task type of any plugin`, "misc"}},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		seen[tt.file] = true
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "jobs", "bad", tt.file)
			job, err := ReadJobFile(context.Background(), path, registry(t))
			if err == nil {
				t.Fatalf("no error; parsed %+v", job)
			}
			if job != nil {
				t.Error("a job was returned with the error")
			}
			var fe *FileError
			if !errors.As(err, &fe) || fe.File != path {
				t.Errorf("error %T does not name the file %s: %v", err, path, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, path) {
				t.Errorf("message does not name the file: %s", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message lacks %q:\n%s", w, msg)
				}
			}
		})
	}
	// Every fixture is in the table.
	entries, err := os.ReadDir(filepath.Join("testdata", "jobs", "bad"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !seen[e.Name()] {
			t.Errorf("fixture %s is not tested", e.Name())
		}
	}
}

func TestJobFileLimits(t *testing.T) {
	t.Run("file too large", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "huge.toml")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		// Sparse: no 32 MiB written.
		if err := f.Truncate(MaxJobFileBytes + 1); err != nil {
			t.Fatal(err)
		}
		f.Close()
		_, err = ReadJobFile(context.Background(), path, registry(t))
		want := "job file " + path + ": the file is larger than 32 MiB, the limit for a job file: split the job into several"
		if err == nil || err.Error() != want {
			t.Errorf("error %v, want %q", err, want)
		}
		if _, err := ParseJob(context.Background(), "huge.toml", make([]byte, MaxJobFileBytes+1)); err == nil || !strings.Contains(err.Error(), "larger than 32 MiB") {
			t.Errorf("ParseJob of a too large file: %v", err)
		}
	})
	t.Run("canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		data, err := os.ReadFile(filepath.Join("testdata", "jobs", "good", "echo-sleep.toml"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseJob(ctx, "echo-sleep.toml", data); !errors.Is(err, context.Canceled) {
			t.Errorf("ParseJob with a canceled context: %v", err)
		}
		job, err := ParseJob(context.Background(), "echo-sleep.toml", data)
		if err != nil {
			t.Fatal(err)
		}
		if err := job.Validate(ctx, "echo-sleep.toml", registry(t)); !errors.Is(err, context.Canceled) {
			t.Errorf("Validate with a canceled context: %v", err)
		}
	})
}

// TestLongDependencyChain: a chain of many tasks is checked for cycles
// without deep recursion, and a cycle at its end is found.
func TestLongDependencyChain(t *testing.T) {
	const n = 20_000
	tasks := make([]Task, n)
	for i := range tasks {
		tasks[i].Name = fmt.Sprintf("t%d", i)
		if i > 0 {
			tasks[i].DependsOn = []string{tasks[i-1].Name}
		}
	}
	if c := findCycle(tasks); c != nil {
		t.Fatalf("cycle in a chain: %v", c[:min(len(c), 5)])
	}
	tasks[0].DependsOn = []string{tasks[n-1].Name}
	c := findCycle(tasks)
	if len(c) != n+1 || c[0] != c[n] {
		t.Fatalf("cycle of %d names, want %d with the first again at the end", len(c), n+1)
	}
}

func TestExampleJobFiles(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "..", "examples", "jobs", "*.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no examples in examples/jobs")
	}
	for _, f := range files {
		if _, err := ReadJobFile(context.Background(), f, registry(t)); err != nil {
			t.Errorf("example %s: %v", f, err)
		}
	}
}

func FuzzParseJob(f *testing.F) {
	for _, dir := range []string{"good", "bad"} {
		files, _ := filepath.Glob(filepath.Join("testdata", "jobs", dir, "*.toml"))
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err == nil {
				f.Add(data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		job, err := ParseJob(context.Background(), "fuzz.toml", data)
		// The fast check for unknown keys agrees with go-toml's strict mode.
		var strict fileJob
		dec := toml.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		strictErr := dec.Decode(&strict)
		var missing *toml.StrictMissingError
		if err == nil && strictErr != nil {
			t.Fatalf("accepted, but go-toml's strict mode says: %v", strictErr)
		}
		if errors.As(strictErr, &missing) && (err == nil || !strings.Contains(err.Error(), "unknown key")) {
			t.Fatalf("go-toml's strict mode finds unknown keys (%v), ParseJob says: %v", strictErr, err)
		}
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) || len(fe.Problems) == 0 || job != nil {
				t.Fatalf("error is not a FileError with problems: %v", err)
			}
			return
		}
		// A parsed job is sound: named, tasks with unique names and
		// commands, dependencies on known tasks, no cycle.
		if job.Name == "" || len(job.Tasks) == 0 {
			t.Fatalf("parsed a job without name or tasks: %+v", job)
		}
		names := map[string]bool{}
		for _, tk := range job.Tasks {
			if tk.Name == "" || names[tk.Name] || len(tk.Commands) == 0 {
				t.Fatalf("bad task accepted: %+v", tk)
			}
			names[tk.Name] = true
		}
		for _, tk := range job.Tasks {
			for _, d := range tk.DependsOn {
				if !names[d] || d == tk.Name {
					t.Fatalf("task %q depends on %q", tk.Name, d)
				}
			}
		}
		if c := findCycle(job.Tasks); c != nil {
			t.Fatalf("cycle accepted: %v", c)
		}
		// Submit stores it as JSON.
		if _, err := json.Marshal(job); err != nil {
			t.Fatalf("parsed job cannot be stored: %v", err)
		}
	})
}
