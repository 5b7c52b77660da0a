package plugins

import (
	"bytes"
	"strings"
	"sync"
)

// The most of a plugin's stderr that a start failure quotes: enough for a
// Python traceback or a Go panic's first frames, small enough for a task's
// failure message.
// A line wider than stderrTailLineBytes is cut, so that one long line does
// not push out the lines before it.
const (
	stderrTailLines     = 20
	stderrTailBytes     = 4 << 10
	stderrTailLineBytes = 1 << 10
)

// stderrCut ends a line that was cut.
const stderrCut = " [...]"

// stderrTail keeps the last lines a plugin process wrote to its stderr
// (go-plugin's ClientConfig.Stderr), bounded by stderrTailLines and
// stderrTailBytes: a plugin that dies at start usually says why there, and
// go-plugin's own error does not.
type stderrTail struct {
	mu      sync.Mutex
	lines   []string
	size    int    // bytes in lines
	partial []byte // the line being written, not ended yet
	cut     bool   // partial lost its end
}

// Write takes the stderr as go-plugin hands it on: a line, then its newline,
// in separate writes (a very long line in several pieces).
func (t *stderrTail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			t.grow(p)
			break
		}
		t.grow(p[:i])
		t.end()
		p = p[i+1:]
	}
	return n, nil
}

// grow adds to the current line, of which only the first
// stderrTailLineBytes are kept.
func (t *stderrTail) grow(p []byte) {
	room := max(stderrTailLineBytes-len(t.partial), 0)
	t.partial = append(t.partial, p[:min(room, len(p))]...)
	t.cut = t.cut || len(p) > room
}

// end ends the current line and drops the oldest ones beyond the bounds.
func (t *stderrTail) end() {
	line := strings.TrimRight(string(t.partial), "\r")
	if t.cut {
		line += stderrCut
	}
	t.partial, t.cut = t.partial[:0], false
	t.lines = append(t.lines, line)
	t.size += len(line)
	for len(t.lines) > stderrTailLines || t.size > stderrTailBytes {
		t.size -= len(t.lines[0])
		t.lines = t.lines[1:]
	}
}

// Lines is the tail, oldest first, with a last line not ended yet; blank
// lines at its end are left out.
func (t *stderrTail) Lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := append([]string(nil), t.lines...)
	if len(t.partial) > 0 {
		line := string(t.partial)
		if t.cut {
			line += stderrCut
		}
		out = append(out, line)
	}
	for len(out) > 0 && strings.TrimSpace(out[len(out)-1]) == "" {
		out = out[:len(out)-1]
	}
	return out
}

// quote is the tail as the end of an error message: "" when the plugin wrote
// nothing, else the lines, indented, each on a line of its own.
func (t *stderrTail) quote() string {
	lines := t.Lines()
	if len(lines) == 0 {
		return ""
	}
	return "; the last lines of its stderr:\n    " + strings.Join(lines, "\n    ")
}
