// Package jobfile reads the local queue's job files: TOML that names a job,
// its tasks, their dependencies and commands. It parses strictly (an unknown
// key is an error), lists every problem with its line, bounds what a hostile
// file may cost, and checks the commands against the plugins. It also reads
// the times and intervals a job is submitted with (--at, --every).
package jobfile

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
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
	// More counts the problems found beyond those listed.
	More int
}

func (e *FileError) Error() string {
	if len(e.Problems) == 1 && e.More == 0 {
		return fmt.Sprintf("job file %s: %s", e.File, e.Problems[0])
	}
	var b strings.Builder
	if e.More > 0 {
		fmt.Fprintf(&b, "job file %s has %d problems; the first %d:", e.File, len(e.Problems)+e.More, len(e.Problems))
	} else {
		fmt.Fprintf(&b, "job file %s has %d problems:", e.File, len(e.Problems))
	}
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

// Limits on job files. They keep a hostile or broken file from taking the
// machine's memory or minutes of CPU: parsing and checking are linear in the
// file's size, and a file at the size limit is read in a few seconds.
const (
	// MaxJobFileBytes is the largest job file accepted (a job of 100,000
	// one-command tasks is about 9 MB).
	MaxJobFileBytes = 32 << 20
	// MaxParamDepth is how deeply tables and arrays may nest in one
	// parameter value; deeper values cannot be stored nor sent to a plugin.
	MaxParamDepth = 32
	// maxProblems is how many problems a FileError lists; the rest are
	// counted.
	maxProblems = 50
	// maxNamesListed is how many task names a message lists.
	maxNamesListed = 10
)

// ReadJobData reads a job file, refusing one larger than MaxJobFileBytes.
func ReadJobData(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("job file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxJobFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("job file %s: %w", path, err)
	}
	if len(data) > MaxJobFileBytes {
		return nil, tooLarge(path)
	}
	return data, nil
}

func tooLarge(name string) error {
	return &FileError{File: name, Problems: []Problem{{Message: fmt.Sprintf(
		"the file is larger than %d MiB, the limit for a job file: split the job into several", MaxJobFileBytes>>20)}}}
}

// ReadJobFile reads, parses and validates a job file against the plugins.
func ReadJobFile(ctx context.Context, path string, cmds Commands) (*Job, error) {
	data, err := ReadJobData(path)
	if err != nil {
		return nil, err
	}
	job, err := ParseJob(ctx, path, data)
	if err != nil {
		return nil, err
	}
	if err := job.Validate(ctx, path, cmds); err != nil {
		return nil, err
	}
	return job, nil
}

// ParseJob parses a job file and checks its structure: keys and their types
// (strictly: an unknown key is an error), a name, at least one task, task
// names unique, every task with commands, depends_on naming tasks of the job,
// no dependency cycle. name is used in messages. The commands are checked
// against the plugins by Validate.
//
// ParseJob returns ctx's error as soon as ctx is done, even in the middle of
// decoding a big file (the decoder itself cannot be stopped; it finishes in
// the background).
func ParseJob(ctx context.Context, name string, data []byte) (*Job, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	type result struct {
		job *Job
		err error
	}
	done := make(chan result, 1)
	go func() {
		job, err := parseJob(ctx, name, data)
		done <- result{job, err}
	}()
	select {
	case r := <-done:
		return r.job, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func parseJob(ctx context.Context, name string, data []byte) (*Job, error) {
	if len(data) > MaxJobFileBytes {
		return nil, tooLarge(name)
	}
	// The decoder reports syntax and type errors (it stops at the first).
	// It runs beside the scan, on another core when there is one.
	var f fileJob
	decoded := make(chan error, 1)
	go func() { decoded <- toml.NewDecoder(bytes.NewReader(data)).Decode(&f) }()
	var probs problems
	// One pass over the syntax tree finds unknown keys and the lines of the
	// headers; go-toml's own strict mode costs a scan of the whole file per
	// unknown key.
	lines, err := scanJobFile(ctx, data, &probs)
	if err != nil {
		return nil, err // the decoder finishes in the background
	}
	decodeErr := <-decoded
	if len(probs.list) > 0 {
		return nil, probs.fileError(name)
	}
	if decodeErr != nil {
		return nil, &FileError{File: name, Problems: decodeProblems(decodeErr)}
	}
	add := probs.add

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

	seen := make(map[string]int, len(f.Tasks)) // task name -> index
	job.Tasks = make([]Task, 0, len(f.Tasks))
	for i, ft := range f.Tasks {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
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
			checkValues(c.Parameters, func(msg string) { add(c.line, label, cmdLabel, "parameter %s", msg) })
			t.Commands = append(t.Commands, c)
		}
		job.Tasks = append(job.Tasks, t)
	}

	// Dependencies, once every name is known.
	var allNames string // listed in messages, made once
	for i, t := range job.Tasks {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		listed := make(map[string]bool, len(t.DependsOn))
		for _, d := range t.DependsOn {
			switch {
			case listed[d]:
				add(t.line, t.Name, "", "depends_on lists %q twice", d)
			case d == t.Name:
				add(t.line, t.Name, "", "the task depends on itself")
			default:
				if _, ok := seen[d]; !ok && t.Name != "" {
					if allNames == "" {
						allNames = listNames(taskNames(job.Tasks))
					}
					add(t.line, t.Name, "", "depends_on names %q, which is not a task of this job (tasks: %s)", d, allNames)
				}
			}
			listed[d] = true
		}
	}
	if cycle := findCycle(job.Tasks); cycle != nil {
		add(job.Tasks[seen[cycle[0]]].line, "", "", "dependency cycle: %s", strings.Join(cycle, " -> "))
	}
	if len(probs.list) > 0 {
		return nil, probs.fileError(name)
	}
	return job, nil
}

// problems collects a file's problems, keeping the first maxProblems.
type problems struct {
	list []Problem
	more int
}

func (p *problems) add(line int, task, command, format string, args ...any) {
	if len(p.list) >= maxProblems {
		p.more++
		return
	}
	p.list = append(p.list, Problem{Line: line, Task: task, Command: command, Message: fmt.Sprintf(format, args...)})
}

func (p *problems) fileError(file string) *FileError {
	return &FileError{File: file, Problems: p.list, More: p.more}
}

// listNames lists names for a message, the first few of many.
func listNames(names []string) string {
	if len(names) <= maxNamesListed {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:maxNamesListed], ", "), len(names)-maxNamesListed)
}

// Validate checks every command against the plugins: a command some plugin
// provides, its required parameters present, every parameter of the right
// type and declared by the command (an unknown one is usually a typo), and the
// task type, when given, one the plugins know. A task without a type gets its
// first command's type when cmds can tell it.
func (j *Job) Validate(ctx context.Context, file string, cmds Commands) error {
	var probs problems
	known := cmds.TaskTypes()
	ct, canType := cmds.(CommandTypes)
	for i := range j.Tasks {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		t := &j.Tasks[i]
		for _, c := range t.Commands {
			if err := cmds.CheckParams(c.Name, c.Parameters, true); err != nil {
				probs.add(c.line, t.Name, c.Name, "%s", strings.TrimPrefix(err.Error(), fmt.Sprintf("command %q: ", c.Name)))
			}
		}
		if t.Type != "" {
			if !slices.Contains(known, t.Type) {
				probs.add(t.line, t.Name, "", "type %q is not a task type of any plugin (known: %s)", t.Type, strings.Join(known, ", "))
			}
		} else if canType && len(t.Commands) > 0 {
			t.Type, _ = ct.TaskTypeOf(t.Commands[0].Name)
		}
	}
	if len(probs.list) > 0 {
		return probs.fileError(file)
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
// infinities (JSON and the plugins' protobuf Struct cannot carry them),
// dates, and values nested deeper than MaxParamDepth. The path of a value is
// only written out for a problem, so a value of many nested keys is checked
// in linear time.
func checkValues(params map[string]any, report func(msg string)) {
	var path []string // keys and [index] down to the value being checked
	where := func() string {
		var b strings.Builder
		for i, p := range path {
			if i > 0 && !strings.HasPrefix(p, "[") {
				b.WriteByte('.')
			}
			b.WriteString(p)
		}
		return b.String()
	}
	var check func(v any, depth int)
	check = func(v any, depth int) {
		switch x := v.(type) {
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) {
				report(fmt.Sprintf("%s: %v is not a usable number", where(), x))
			}
		case map[string]any:
			if depth >= MaxParamDepth {
				report(fmt.Sprintf("%s: nested more than %d levels deep (the limit for a parameter value)", where(), MaxParamDepth))
				return
			}
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				path = append(path, k)
				check(x[k], depth+1)
				path = path[:len(path)-1]
			}
		case []any:
			if depth >= MaxParamDepth {
				report(fmt.Sprintf("%s: nested more than %d levels deep (the limit for a parameter value)", where(), MaxParamDepth))
				return
			}
			for i, e := range x {
				path = append(path, "["+strconv.Itoa(i)+"]")
				check(e, depth+1)
				path = path[:len(path)-1]
			}
		case time.Time, toml.LocalDate, toml.LocalTime, toml.LocalDateTime:
			report(fmt.Sprintf("%s: dates and times are not parameter values: quote them as a string", where()))
		}
	}
	check(params, 0)
}

// findCycle returns the task names of a dependency cycle, first and last the
// same, or nil. Tasks are visited in file order, so the answer is stable. The
// walk keeps its own stack: a chain of 100,000 tasks is a fine job.
func findCycle(tasks []Task) []string {
	byName := make(map[string]int, len(tasks))
	for i := range tasks {
		if tasks[i].Name != "" {
			byName[tasks[i].Name] = i
		}
	}
	const (
		unvisited = iota
		onPath
		done
	)
	state := make([]int, len(tasks))
	type frame struct {
		task int
		next int // index in its DependsOn of the next dependency to visit
	}
	var stack []frame
	for root := range tasks {
		if tasks[root].Name == "" || state[root] != unvisited {
			continue
		}
		state[root] = onPath
		stack = append(stack[:0], frame{task: root})
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			deps := tasks[top.task].DependsOn
			if top.next == len(deps) {
				state[top.task] = done
				stack = stack[:len(stack)-1]
				continue
			}
			d := deps[top.next]
			top.next++
			di, ok := byName[d]
			if !ok || di == top.task { // unknown, or reported as depending on itself
				continue
			}
			switch state[di] {
			case onPath:
				var cycle []string
				for i := len(stack) - 1; i >= 0; i-- {
					cycle = append(cycle, tasks[stack[i].task].Name)
					if stack[i].task == di {
						break
					}
				}
				slices.Reverse(cycle)
				return append(cycle, d)
			case unvisited:
				state[di] = onPath
				stack = append(stack, frame{task: di})
			}
		}
	}
	return nil
}
