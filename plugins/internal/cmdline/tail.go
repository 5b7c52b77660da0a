package cmdline

import "strings"

// Tail keeps the last lines a program printed, for the message when it
// fails. The zero value keeps nothing; make one with NewTail.
type Tail struct {
	max   int
	lines []string
}

// NewTail returns a Tail that keeps the last n lines.
func NewTail(n int) *Tail { return &Tail{max: n, lines: make([]string, 0, n)} }

// Add keeps line, dropping the oldest when full. The line is copied: the
// caller's string may point into a larger read buffer.
func (t *Tail) Add(line string) {
	if t.max <= 0 {
		return
	}
	if len(t.lines) == t.max {
		t.lines = append(t.lines[:0], t.lines[1:]...)
	}
	t.lines = append(t.lines, strings.Clone(line))
}

// Lines returns the kept lines, oldest first.
func (t *Tail) Lines() []string { return t.lines }
