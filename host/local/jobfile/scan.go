package jobfile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// This file holds the reading of the file itself: go-toml's errors as
// problems with lines and keys, and one walk of the syntax tree for unknown
// keys and the lines of the task and command headers.

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
