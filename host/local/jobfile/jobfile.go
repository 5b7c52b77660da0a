// Package jobfile reads the local queue's job files: TOML that names a job,
// its tasks, their dependencies and commands. It parses strictly (an unknown
// key is an error), lists every problem with its line, bounds what a hostile
// file may cost, and checks the commands against the plugins. It also reads
// the times and intervals a job is submitted with (--at, --every).
package jobfile

import (
	"bytes"
	"context"
	"errors"
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

// tableKind is what a table of a job file holds, for finding unknown keys.
type tableKind int

const (
	jobTable tableKind = iota
	taskTable
	commandTable
	anyTable // parameters: any key goes
	skipped  // under an unknown key, already reported
)

// child is the kind of the value of key in a table of kind k, and whether
// the key is known.
func (k tableKind) child(key string) (tableKind, bool) {
	switch k {
	case jobTable:
		switch key {
		case "name", "priority":
			return anyTable, true
		case "tasks":
			return taskTable, true
		}
	case taskTable:
		switch key {
		case "name", "type", "depends_on":
			return anyTable, true
		case "commands":
			return commandTable, true
		}
	case commandTable:
		switch key {
		case "name", "total_step_count", "parameters":
			return anyTable, true
		}
	case anyTable, skipped:
		return k, true
	}
	return skipped, false
}

// jobFileScan walks a job file's syntax tree once: it reports unknown keys
// and finds the lines of the [[tasks]] and [[tasks.commands]] headers.
type jobFileScan struct {
	data  []byte
	probs *problems
	tasks []taskLines
	// line counting moves forward only: the tree is walked in file order.
	lineOffset, line int
}

// scanJobFile reports unknown keys into probs and returns the header lines.
// On a syntax error it reports nothing and returns no lines: the decoder
// then reports the error with its line and column. Tasks written inline
// (tasks = [...]) get no lines.
func scanJobFile(ctx context.Context, data []byte, probs *problems) ([]taskLines, error) {
	s := &jobFileScan{data: data, probs: &problems{}, line: 1}
	var p unstable.Parser
	p.Reset(data)
	table, tablePath := jobTable, []string(nil)
	for n := 0; p.NextExpression(); n++ {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		e := p.Expression()
		switch e.Kind {
		case unstable.KeyValue:
			s.keyValue(table, tablePath, e)
		case unstable.Table, unstable.ArrayTable:
			table, tablePath = s.header(e)
		}
	}
	if p.Error() != nil {
		return nil, nil
	}
	probs.list, probs.more = s.probs.list, s.probs.more
	return s.tasks, nil
}

// header handles a [table] or [[array table]] header and returns the kind and
// path of the table it opens.
func (s *jobFileScan) header(e *unstable.Node) (tableKind, []string) {
	kind := jobTable
	var path []string
	it := e.Key()
	for it.Next() {
		n := it.Node()
		path = append(path, string(n.Data))
		var known bool
		if kind, known = kind.child(string(n.Data)); !known {
			s.unknown(path, n)
			return skipped, path
		}
	}
	if e.Kind == unstable.ArrayTable && len(path) > 0 {
		first := e.Key()
		first.Next()
		line := s.lineAt(first.Node().Raw.Offset)
		switch {
		case len(path) == 1 && path[0] == "tasks":
			s.tasks = append(s.tasks, taskLines{line: line})
		case len(path) == 2 && path[0] == "tasks" && path[1] == "commands" && len(s.tasks) > 0:
			last := &s.tasks[len(s.tasks)-1]
			last.commands = append(last.commands, line)
		}
	}
	return kind, path
}

// keyValue checks the key of a key = value line in a table of the given kind
// and path, and the keys of inline tables in its value.
func (s *jobFileScan) keyValue(table tableKind, tablePath []string, kv *unstable.Node) {
	if table == skipped || table == anyTable {
		return
	}
	kind := table
	path := slices.Clip(tablePath)
	it := kv.Key()
	for it.Next() {
		n := it.Node()
		path = append(path, string(n.Data))
		var known bool
		if kind, known = kind.child(string(n.Data)); !known {
			s.unknown(path, n)
			return
		}
		if kind == anyTable {
			return
		}
	}
	s.value(kind, path, kv.Value())
}

// value checks the keys of the inline tables in a value (tasks = [{...}],
// commands = [{...}]); other values are the decoder's to check.
func (s *jobFileScan) value(kind tableKind, path []string, v *unstable.Node) {
	switch v.Kind {
	case unstable.InlineTable:
		it := v.Children()
		for it.Next() {
			if kv := it.Node(); kv.Kind == unstable.KeyValue {
				s.keyValue(kind, path, kv)
			}
		}
	case unstable.Array:
		it := v.Children()
		for it.Next() {
			// Only tables in the array: an array in an array of tasks is a
			// type error, reported by the decoder.
			if e := it.Node(); e.Kind == unstable.InlineTable {
				s.value(kind, path, e)
			}
		}
	}
}

func (s *jobFileScan) unknown(key []string, at *unstable.Node) {
	s.probs.add(s.lineAt(at.Raw.Offset), "", "", "unknown key %q%s", strings.Join(key, "."), keyHint(key))
}

// lineAt is the line (from 1) of a byte offset.
func (s *jobFileScan) lineAt(offset uint32) int {
	off := min(int(offset), len(s.data))
	if off < s.lineOffset { // not expected: count again from the start
		s.lineOffset, s.line = 0, 1
	}
	s.line += bytes.Count(s.data[s.lineOffset:off], []byte{'\n'})
	s.lineOffset = off
	return s.line
}
