// Package loglimit bounds how much of one task's log is sent to the Manager.
//
// The first 20% of the budget streams live. Once that head is full, the
// limiter keeps a rolling tail of the last 80% of the budget and releases it
// only when the task ends, behind one marker line that says how much was left
// out. So the Manager sees how a task started and how it ended, and never more
// than the budget plus one marker line, however much a command prints.
//
// Sizes count each line's bytes plus one for its newline. Lines are never
// split, except one line that alone is bigger than the tail: its last bytes are
// kept, cut at a UTF-8 boundary. Lines are given without their newline; a line
// that does contain newlines is held back as the several lines it is.
package loglimit

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/cajonfarm/cajon/sdk/wire"
)

// DefaultMaxBytes is the default per-task budget (the config's max_log_bytes).
const DefaultMaxBytes = 8 << 20

// headPercent is the share of the budget that streams live; the rest is the
// tail that is held back until the task ends.
const headPercent = 20

// Limiter applies the head/tail budget to the log lines of one task.
// It is not safe for concurrent use: one task's lines come from one goroutine.
type Limiter struct {
	unlimited  bool
	headBudget int64
	tailBudget int64

	headUsed  int64
	truncated bool // the head is full: every later line goes to the tail
	last      string

	tail     byteRing
	firstCut bool // the oldest line in tail is the kept end of a cut line

	leftOutBytes int64
	leftOutLines int64
	closed       bool
}

// New returns a Limiter for one task with a budget of maxBytes.
// maxBytes <= 0 means unlimited: every line streams live.
func New(maxBytes int64) *Limiter {
	if maxBytes <= 0 {
		return &Limiter{unlimited: true}
	}
	head := maxBytes * headPercent / 100
	return &Limiter{headBudget: head, tailBudget: maxBytes - head}
}

// Add takes the next lines of the task's log (without their newlines) and
// returns the ones to send now. The returned slice shares lines' backing
// array: it is always a prefix of lines.
func (l *Limiter) Add(lines []string) (live []string) {
	if len(lines) == 0 {
		return nil
	}
	l.last = lines[len(lines)-1]
	if l.closed {
		// A line after Close belongs to no log any more: count it as left out
		// rather than send it out of order.
		for _, s := range lines {
			l.leftOutBytes += lineSize(s)
			l.leftOutLines++
		}
		return nil
	}
	if l.unlimited {
		return lines
	}
	n := 0
	if !l.truncated {
		for n < len(lines) {
			size := lineSize(lines[n])
			if l.headUsed+size > l.headBudget {
				l.truncated = true
				break
			}
			l.headUsed += size
			n++
		}
	}
	for _, s := range lines[n:] {
		l.keep(s)
	}
	if n == 0 {
		return nil
	}
	return lines[:n]
}

// keep puts one line into the tail, dropping the oldest lines that no longer
// fit.
func (l *Limiter) keep(s string) {
	size := lineSize(s)
	cut := false
	if size > l.tailBudget {
		// This line alone fills the tail: everything held so far goes, and so
		// does the start of the line.
		for l.tail.len() > 0 {
			l.dropOldest()
		}
		keepBytes := int(l.tailBudget - 1) // one byte for the newline
		if keepBytes <= 0 {
			l.leftOutBytes += size
			l.leftOutLines++
			return
		}
		start := len(s) - keepBytes
		for start < len(s) && !utf8.RuneStart(s[start]) {
			start++
		}
		l.leftOutBytes += int64(start)
		l.leftOutLines++ // the line is left out in part; counted once, here
		s = s[start:]
		size = lineSize(s)
		cut = true
	}
	for int64(l.tail.len())+size > l.tailBudget {
		l.dropOldest()
	}
	if l.tail.len() == 0 {
		l.firstCut = cut
	}
	l.tail.writeLine(s, l.tailBudget)
}

func (l *Limiter) dropOldest() {
	l.leftOutBytes += int64(l.tail.dropLine())
	if !l.firstCut { // a cut line was already counted when it was cut
		l.leftOutLines++
	}
	l.firstCut = false
}

// Truncated reports whether the head is full, so lines are being held back
// instead of streamed. While it is true, the task's activity text should show
// Last, since the Manager's log no longer does.
func (l *Limiter) Truncated() bool { return l.truncated }

// Last returns the latest line given to Add, whether it was sent or not.
func (l *Limiter) Last() string { return l.last }

// LeftOut returns how many bytes (newlines included) and lines have been left
// out so far. A line of which only the end is kept counts as left out.
func (l *Limiter) LeftOut() (bytes, lines int64) { return l.leftOutBytes, l.leftOutLines }

// Close ends the task's log and returns what is still to be sent: when
// anything was left out, one marker line saying how much, then the kept tail.
// It returns nil when nothing is held back. fullLogPath, when not empty, is
// named in the marker as where the whole log can be read on the worker.
// Calling Close again returns nil.
func (l *Limiter) Close(fullLogPath string) (tail []string) {
	text, ok := l.CloseText(fullLogPath)
	if !ok {
		return nil
	}
	return strings.Split(text, "\n")
}

// CloseText is Close with the lines joined by newlines into one text (no
// newline at the end); ok is false when nothing is held back. The tail is
// copied once, so the end of a flooded task does not hold the budget in
// memory several times over.
func (l *Limiter) CloseText(fullLogPath string) (text string, ok bool) {
	if l.closed {
		return "", false
	}
	l.closed = true
	if l.tail.len() == 0 && l.leftOutBytes == 0 {
		return "", false
	}
	var b strings.Builder
	if l.leftOutBytes > 0 {
		marker := Marker(l.leftOutBytes, l.leftOutLines, fullLogPath)
		b.Grow(len(marker) + 1 + l.tail.len())
		b.WriteString(marker)
		if l.tail.len() == 0 {
			return b.String(), true
		}
		b.WriteByte('\n')
	} else {
		b.Grow(l.tail.len())
	}
	l.tail.drainTo(&b)
	return b.String(), true
}

// Marker returns the line that stands in for the left-out part of a log.
func Marker(bytes, lines int64, fullLogPath string) string {
	noun := "lines"
	if lines == 1 {
		noun = "line"
	}
	if fullLogPath == "" {
		return fmt.Sprintf("["+wire.HostLinePrefix+"%d bytes in %d %s left out of this log]", bytes, lines, noun)
	}
	return fmt.Sprintf("["+wire.HostLinePrefix+"%d bytes in %d %s left out of this log; the full log is on the worker at %s]",
		bytes, lines, noun, fullLogPath)
}

func lineSize(s string) int64 { return int64(len(s)) + 1 }

// byteRing holds the tail as newline-terminated lines in a circular byte
// buffer that grows up to the tail budget and no further: memory stays at the
// budget however many lines pass, and costs no per-line overhead.
// ringJump is the ring size past which the next growth goes to the limit.
const ringJump = 1 << 20

type byteRing struct {
	buf   []byte
	first int // index of the oldest byte
	n     int // bytes held
}

func (r *byteRing) len() int { return r.n }

// writeLine appends s and a newline; the caller has made room for them within
// limit bytes.
func (r *byteRing) writeLine(s string, limit int64) {
	need := r.n + len(s) + 1
	if need > len(r.buf) {
		// Double while small; past ringJump go straight to the limit, so a
		// flooded task never holds the old and the new ring of a late
		// doubling at once.
		size := int64(max(need, 2*len(r.buf), 4096))
		if size > ringJump {
			size = limit
		}
		r.grow(int(min(limit, size))) // the caller made room: need <= limit
	}
	end := (r.first + r.n) % len(r.buf)
	k := copy(r.buf[end:], s)
	copy(r.buf, s[k:])
	r.buf[(end+len(s))%len(r.buf)] = '\n'
	r.n += len(s) + 1
}

func (r *byteRing) grow(size int) {
	bigger := make([]byte, size)
	r.copyTo(bigger)
	r.buf, r.first = bigger, 0
}

// copyTo copies the held bytes, oldest first, into dst.
func (r *byteRing) copyTo(dst []byte) {
	if r.n == 0 {
		return
	}
	k := copy(dst, r.buf[r.first:min(r.first+r.n, len(r.buf))])
	copy(dst[k:], r.buf[:r.n-k])
}

// dropLine removes the oldest line and returns its size, newline included.
func (r *byteRing) dropLine() int {
	size := r.n // no newline found: drop everything (cannot happen: every line ends in one)
	firstPart := r.buf[r.first:min(r.first+r.n, len(r.buf))]
	if i := bytes.IndexByte(firstPart, '\n'); i >= 0 {
		size = i + 1
	} else if i := bytes.IndexByte(r.buf[:r.n-len(firstPart)], '\n'); i >= 0 {
		size = len(firstPart) + i + 1
	}
	r.first = (r.first + size) % max(len(r.buf), 1)
	r.n -= size
	return size
}

// drainTo writes the held lines, oldest first and without the last newline,
// to b and empties the ring.
func (r *byteRing) drainTo(b *strings.Builder) {
	if r.n == 0 {
		return
	}
	first := r.buf[r.first:min(r.first+r.n, len(r.buf))]
	second := r.buf[:r.n-len(first)]
	if len(second) > 0 {
		b.Write(first)
		b.Write(second[:len(second)-1])
	} else {
		b.Write(first[:len(first)-1])
	}
	r.buf, r.first, r.n = nil, 0, 0
}
