package local

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// DefaultPriority is a job's priority when its file gives none (Flamenco's
// default too). Higher runs first.
const DefaultPriority = 50

// Job is a validated job: what a job file describes.
type Job struct {
	Name     string `json:"name"`
	Priority int    `json:"priority"`
	Tasks    []Task `json:"tasks"`
}

// Task is one task of a job: its commands run in order, after every task it
// depends on has completed.
type Task struct {
	Name      string    `json:"name"`
	Type      string    `json:"type"`
	DependsOn []string  `json:"depends_on,omitempty"`
	Commands  []Command `json:"commands"`

	line int // of its [[tasks]] header in the job file; 0 when unknown
}

// Command is one command of a task, the shape of a command in a Flamenco
// AssignedTask.
type Command struct {
	Name           string         `json:"name"`
	Parameters     map[string]any `json:"parameters"`
	TotalStepCount int            `json:"total_step_count,omitempty"`

	line int
}

// fileJob is the TOML shape of a job file. Pointers tell which keys are set.
type fileJob struct {
	Name     *string    `toml:"name"`
	Priority *int64     `toml:"priority"`
	Tasks    []fileTask `toml:"tasks"`
}

type fileTask struct {
	Name      *string       `toml:"name"`
	Type      *string       `toml:"type"`
	DependsOn []string      `toml:"depends_on"`
	Commands  []fileCommand `toml:"commands"`
}

type fileCommand struct {
	Name           *string        `toml:"name"`
	Parameters     map[string]any `toml:"parameters"`
	TotalStepCount *int64         `toml:"total_step_count"`
}

// Problem is one thing wrong in a job file.
type Problem struct {
	// Line in the file, 0 when unknown.
	Line int
	// Task and Command name where the problem is, when it is in one.
	Task, Command string
	// Message says what is wrong.
	Message string
}

func (p Problem) String() string {
	var where []string
	if p.Line > 0 {
		where = append(where, fmt.Sprintf("line %d", p.Line))
	}
	if p.Task != "" {
		where = append(where, fmt.Sprintf("task %q", p.Task))
	}
	if p.Command != "" {
		where = append(where, fmt.Sprintf("command %q", p.Command))
	}
	if len(where) == 0 {
		return p.Message
	}
	return strings.Join(where, ", ") + ": " + p.Message
}

// FileError lists every problem found in a job file. Nothing of the job is
// stored when a job file has problems.
type FileError struct {
	File     string
	Problems []Problem
}

func (e *FileError) Error() string {
	if len(e.Problems) == 1 {
		return fmt.Sprintf("job file %s: %s", e.File, e.Problems[0])
	}
	var b strings.Builder
	fmt.Fprintf(&b, "job file %s has %d problems:", e.File, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  " + p.String())
	}
	return b.String()
}

// Commands is what validation needs to know of the plugins;
// *plugins.Registry is one.
type Commands interface {
	// CheckParams checks a command's parameters against its plugin's
	// description; an unknown command is an error too.
	CheckParams(command string, params map[string]any, rejectUnknown bool) error
	// TaskTypes lists the task types the plugins' commands belong to.
	TaskTypes() []string
}

// CommandTypes is implemented by a Commands that can tell a command's task
// type, to give tasks without a `type` the type of their first command.
type CommandTypes interface {
	TaskTypeOf(command string) (string, bool)
}

// ReadJobFile reads, parses and validates a job file against the plugins.
func ReadJobFile(path string, cmds Commands) (*Job, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("job file: %w", err)
	}
	job, err := ParseJob(path, data)
	if err != nil {
		return nil, err
	}
	if err := job.Validate(path, cmds); err != nil {
		return nil, err
	}
	return job, nil
}

// ParseJob parses a job file and checks its structure: keys and their types
// (strictly: an unknown key is an error), a name, at least one task, task
// names unique, every task with commands, depends_on naming tasks of the job,
// no dependency cycle. name is used in messages. The commands are checked
// against the plugins by Validate.
func ParseJob(name string, data []byte) (*Job, error) {
	var f fileJob
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, &FileError{File: name, Problems: decodeProblems(err)}
	}
	lines := headerLines(data)
	var probs []Problem
	add := func(line int, task, command, format string, args ...any) {
		probs = append(probs, Problem{Line: line, Task: task, Command: command, Message: fmt.Sprintf(format, args...)})
	}

	job := &Job{Priority: DefaultPriority}
	if f.Name == nil || strings.TrimSpace(*f.Name) == "" {
		add(0, "", "", `the job has no name: add name = "..." at the top`)
	} else {
		job.Name = *f.Name
	}
	if f.Priority != nil {
		if *f.Priority < 0 || *f.Priority > 100 {
			add(0, "", "", "priority %d is out of range: use 0 to 100 (default %d; higher runs first)", *f.Priority, DefaultPriority)
		} else {
			job.Priority = int(*f.Priority)
		}
	}
	if len(f.Tasks) == 0 {
		add(0, "", "", "the job has no tasks: add at least one [[tasks]] table with [[tasks.commands]]")
	}

	seen := map[string]int{} // task name -> index
	for i, ft := range f.Tasks {
		t := Task{}
		if i < len(lines) {
			t.line = lines[i].line
		}
		label := fmt.Sprintf("#%d", i+1)
		if ft.Name == nil || strings.TrimSpace(*ft.Name) == "" {
			add(t.line, label, "", `the task has no name: add name = "..."`)
		} else {
			t.Name = *ft.Name
			label = t.Name
			if j, dup := seen[t.Name]; dup {
				add(t.line, label, "", "another task (#%d) has the same name: task names must be unique in a job", j+1)
			} else {
				seen[t.Name] = i
			}
		}
		if ft.Type != nil {
			t.Type = *ft.Type
		}
		t.DependsOn = ft.DependsOn
		if len(ft.Commands) == 0 {
			add(t.line, label, "", "the task has no commands: add [[tasks.commands]] tables after it")
		}
		for j, fc := range ft.Commands {
			c := Command{Parameters: fc.Parameters}
			if i < len(lines) && j < len(lines[i].commands) {
				c.line = lines[i].commands[j]
			}
			cmdLabel := fmt.Sprintf("#%d", j+1)
			if fc.Name == nil || strings.TrimSpace(*fc.Name) == "" {
				add(c.line, label, cmdLabel, `the command has no name: add name = "..." (see 'cajon plugins' for the commands)`)
			} else {
				c.Name = *fc.Name
				cmdLabel = c.Name
			}
			if c.Parameters == nil {
				c.Parameters = map[string]any{}
			}
			if fc.TotalStepCount != nil {
				if *fc.TotalStepCount < 0 || *fc.TotalStepCount > math.MaxInt32 {
					add(c.line, label, cmdLabel, "total_step_count %d is out of range", *fc.TotalStepCount)
				} else {
					c.TotalStepCount = int(*fc.TotalStepCount)
				}
			}
			for _, msg := range checkValues("", c.Parameters) {
				add(c.line, label, cmdLabel, "parameter %s", msg)
			}
			t.Commands = append(t.Commands, c)
		}
		job.Tasks = append(job.Tasks, t)
	}

	// Dependencies, once every name is known.
	for _, t := range job.Tasks {
		listed := map[string]bool{}
		for _, d := range t.DependsOn {
			switch {
			case listed[d]:
				add(t.line, t.Name, "", "depends_on lists %q twice", d)
			case d == t.Name:
				add(t.line, t.Name, "", "the task depends on itself")
			default:
				if _, ok := seen[d]; !ok && t.Name != "" {
					add(t.line, t.Name, "", "depends_on names %q, which is not a task of this job (tasks: %s)", d, strings.Join(taskNames(job.Tasks), ", "))
				}
			}
			listed[d] = true
		}
	}
	if cycle := findCycle(job.Tasks); cycle != nil {
		add(job.Tasks[seen[cycle[0]]].line, "", "", "dependency cycle: %s", strings.Join(cycle, " -> "))
	}
	if len(probs) > 0 {
		return nil, &FileError{File: name, Problems: probs}
	}
	return job, nil
}

// Validate checks every command against the plugins: a command some plugin
// provides, its required parameters present, every parameter of the right
// type and declared by the command (an unknown one is usually a typo), and the
// task type, when given, one the plugins know. A task without a type gets its
// first command's type when cmds can tell it.
func (j *Job) Validate(file string, cmds Commands) error {
	var probs []Problem
	known := cmds.TaskTypes()
	for i := range j.Tasks {
		t := &j.Tasks[i]
		for _, c := range t.Commands {
			if err := cmds.CheckParams(c.Name, c.Parameters, true); err != nil {
				probs = append(probs, Problem{Line: c.line, Task: t.Name, Command: c.Name, Message: strings.TrimPrefix(err.Error(), fmt.Sprintf("command %q: ", c.Name))})
			}
		}
		if t.Type != "" {
			if !contains(known, t.Type) {
				probs = append(probs, Problem{Line: t.line, Task: t.Name, Message: fmt.Sprintf("type %q is not a task type of any plugin (known: %s)", t.Type, strings.Join(known, ", "))})
			}
		} else if ct, ok := cmds.(CommandTypes); ok && len(t.Commands) > 0 {
			t.Type, _ = ct.TaskTypeOf(t.Commands[0].Name)
		}
	}
	if len(probs) > 0 {
		return &FileError{File: file, Problems: probs}
	}
	return nil
}

// StepsTotal is how many steps a task counts: each command its
// total_step_count, or one.
func (t Task) StepsTotal() int {
	n := 0
	for _, c := range t.Commands {
		n += max(1, c.TotalStepCount)
	}
	return n
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func taskNames(tasks []Task) []string {
	var names []string
	for _, t := range tasks {
		if t.Name != "" {
			names = append(names, t.Name)
		}
	}
	return names
}

// checkValues reports parameter values that cannot be passed on: NaN and
// infinities (JSON and the plugins' protobuf Struct cannot carry them).
func checkValues(path string, v any) []string {
	var out []string
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			out = append(out, fmt.Sprintf("%s: %v is not a usable number", path, x))
		}
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			out = append(out, checkValues(p, x[k])...)
		}
	case []any:
		for i, e := range x {
			out = append(out, checkValues(fmt.Sprintf("%s[%d]", path, i), e)...)
		}
	case time.Time, toml.LocalDate, toml.LocalTime, toml.LocalDateTime:
		out = append(out, fmt.Sprintf("%s: dates and times are not parameter values: quote them as a string", path))
	}
	return out
}

// findCycle returns the task names of a dependency cycle, first and last the
// same, or nil. Tasks are visited in file order, so the answer is stable.
func findCycle(tasks []Task) []string {
	byName := map[string]*Task{}
	for i := range tasks {
		if tasks[i].Name != "" {
			byName[tasks[i].Name] = &tasks[i]
		}
	}
	const (
		unvisited = iota
		onPath
		done
	)
	state := map[string]int{}
	var path []string
	var visit func(name string) []string
	visit = func(name string) []string {
		switch state[name] {
		case onPath:
			for i, n := range path {
				if n == name {
					return append(append([]string(nil), path[i:]...), name)
				}
			}
		case done:
			return nil
		}
		t, ok := byName[name]
		if !ok {
			return nil
		}
		state[name] = onPath
		path = append(path, name)
		for _, d := range t.DependsOn {
			if d == name {
				continue // reported as depending on itself
			}
			if c := visit(d); c != nil {
				return c
			}
		}
		path = path[:len(path)-1]
		state[name] = done
		return nil
	}
	for _, t := range tasks {
		if c := visit(t.Name); c != nil {
			return c
		}
	}
	return nil
}

// decodeProblems turns go-toml's errors into problems with lines and keys.
func decodeProblems(err error) []Problem {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		probs := make([]Problem, 0, len(strict.Errors))
		for i := range strict.Errors {
			de := &strict.Errors[i]
			line, _ := de.Position()
			key := strings.Join(de.Key(), ".")
			probs = append(probs, Problem{Line: line, Message: fmt.Sprintf("unknown key %q%s", key, keyHint(de.Key()))})
		}
		return probs
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, col := de.Position()
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		if key := strings.Join(de.Key(), "."); key != "" {
			msg = key + ": " + msg
			if rest, ok := strings.CutPrefix(msg, key+": cannot decode TOML "); ok {
				got, _, _ := strings.Cut(rest, " into ")
				if want := expectedKind(de.Key()); want != "" {
					msg = fmt.Sprintf("%s must be %s, not a TOML %s", key, want, got)
				}
			}
			return []Problem{{Line: line, Message: msg}}
		}
		return []Problem{{Line: line, Message: fmt.Sprintf("column %d: %s", col, msg)}}
	}
	return []Problem{{Message: err.Error()}}
}

// expectedKind names what a job file key must hold, for type errors.
func expectedKind(key toml.Key) string {
	if len(key) == 0 {
		return ""
	}
	switch key[len(key)-1] {
	case "name", "type":
		return "a string"
	case "priority", "total_step_count":
		return "an integer"
	case "depends_on":
		return "a list of task names"
	case "tasks":
		return "a list of [[tasks]] tables"
	case "commands":
		return "a list of [[tasks.commands]] tables"
	case "parameters":
		return "a table ([tasks.commands.parameters])"
	}
	return ""
}

// keyHint suggests where a misplaced key belongs.
func keyHint(key toml.Key) string {
	if len(key) == 0 {
		return ""
	}
	last := key[len(key)-1]
	switch {
	case len(key) == 1 && (last == "depends_on" || last == "commands" || last == "type"):
		return " (it belongs in a [[tasks]] table)"
	case len(key) <= 2 && last == "parameters":
		return " (it belongs in a [[tasks.commands]] table, as [tasks.commands.parameters])"
	case len(key) == 2 && key[0] == "tasks" && last != "parameters":
		return " (a task has name, type, depends_on and [[tasks.commands]]; command parameters go in [tasks.commands.parameters])"
	case len(key) == 3 && key[1] == "commands":
		return " (a command has name, total_step_count and [tasks.commands.parameters]; is it a parameter?)"
	case len(key) == 1:
		return " (a job file has name, priority and [[tasks]])"
	}
	return ""
}

// taskLines is where a task and its commands start in the file.
type taskLines struct {
	line     int
	commands []int
}

// headerLines finds the [[tasks]] and [[tasks.commands]] headers, in order,
// for messages. Tasks written inline (tasks = [...]) get no lines.
func headerLines(data []byte) []taskLines {
	var out []taskLines
	p := unstable.Parser{}
	p.Reset(data)
	for p.NextExpression() {
		e := p.Expression()
		if e.Kind != unstable.ArrayTable {
			continue
		}
		var parts []string
		var first *unstable.Node
		it := e.Key()
		for it.Next() {
			n := it.Node()
			if first == nil {
				first = n
			}
			parts = append(parts, string(n.Data))
		}
		if first == nil {
			continue
		}
		line := p.Shape(p.Range(first.Data)).Start.Line
		switch strings.Join(parts, ".") {
		case "tasks":
			out = append(out, taskLines{line: line})
		case "tasks.commands":
			if len(out) > 0 {
				out[len(out)-1].commands = append(out[len(out)-1].commands, line)
			}
		}
	}
	return out
}
