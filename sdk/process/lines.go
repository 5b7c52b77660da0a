package process

import (
	"bytes"
	"io"
	"strings"
	"sync"
	"unicode/utf8"
)

// MaxLineBytes is the longest line OnLine receives. A longer line is delivered
// in pieces of at most this many bytes, each cut before a UTF-8 rune that would
// not fit, so no piece ends inside a multibyte character.
const MaxLineBytes = 64 << 10

// readBufBytes is the read buffer per stream. Large reads keep the per-byte
// cost low; it must hold at least MaxLineBytes+1 bytes plus room to read.
const readBufBytes = 256 << 10

// cutLines calls emit with the bounds b[start:end] of every line in b,
// without its line ending, and returns how many bytes of b it used up. A line ends at "\n"; a "\r" right
// before the "\n" is dropped too (CRLF), any other "\r" is kept. Lines longer
// than max bytes are cut into pieces (see cutPoint). Without atEOF the last,
// unfinished line is left in b for the next call; with atEOF it is emitted
// too (if not empty). The first noNewline bytes of b are known to hold no
// "\n" (they were searched by the previous call), so a line that arrives a
// byte at a time is not searched again and again.
func cutLines(b []byte, noNewline int, atEOF bool, max int, emit func(start, end int)) int {
	pos := 0
	for pos < len(b) {
		rest := b[pos:]
		i := bytes.IndexByte(rest[noNewline:], '\n')
		if i >= 0 {
			i += noNewline
		}
		noNewline = 0
		if i >= 0 {
			n := i
			if n > 0 && rest[n-1] == '\r' {
				n--
			}
			if n <= max {
				emit(pos, pos+n)
				pos += i + 1
				continue
			}
		} else if len(rest) <= max || (len(rest) == max+1 && rest[max] == '\r' && !atEOF) {
			// Unfinished, and may still fit (the '\r' may begin a CRLF).
			if atEOF {
				emit(pos, len(b))
				pos = len(b)
			}
			break
		}
		cut := cutPoint(rest, max)
		emit(pos, pos+cut)
		pos += cut
	}
	return pos
}

// cutPoint returns where to cut b, which is longer than max bytes: at max,
// or earlier if a rune that starts in the last bytes before max does not end
// before it. Invalid UTF-8 is cut at max.
func cutPoint(b []byte, max int) int {
	for i := max - 1; i >= 0 && i > max-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if i > 0 && !utf8.FullRune(b[i:max]) {
				return i
			}
			break
		}
	}
	return max
}

// lineSink delivers the lines of both streams to OnLine, one call at a time,
// and stops delivering once Run is about to return.
type lineSink struct {
	mu      sync.Mutex
	onLine  func(Stream, string)
	stopped bool
	lines   [][2]int // scratch: line bounds of the current read
}

// deliver emits the complete lines in b (all of b with atEOF) and returns how
// many bytes it used up; see cutLines for noNewline. The lock is taken once
// per read, not per line.
//
// All lines of one read are converted to a single string and handed out as
// substrings of it: one allocation per read instead of one per line. A line
// kept for long keeps that read's text (up to readBufBytes) in memory.
func (s *lineSink) deliver(stream Stream, b []byte, noNewline int, atEOF bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped || s.onLine == nil {
		return len(b)
	}
	s.lines = s.lines[:0]
	used := cutLines(b, noNewline, atEOF, MaxLineBytes, func(start, end int) {
		s.lines = append(s.lines, [2]int{start, end})
	})
	if len(s.lines) == 0 {
		return used
	}
	text := string(b[:s.lines[len(s.lines)-1][1]])
	// Lines are cut at rune boundaries, so if the whole text is valid
	// UTF-8, so is every line; only invalid text is checked line by line.
	valid := utf8.ValidString(text)
	for _, l := range s.lines {
		line := text[l[0]:l[1]]
		if !valid {
			line = validUTF8(line)
		}
		s.onLine(stream, line)
	}
	return used
}

func (s *lineSink) stop() {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
}

// validUTF8 replaces each run of invalid UTF-8 bytes with U+FFFD: log lines
// end up in protobuf strings and JSON, both of which require valid UTF-8.
func validUTF8(line string) string {
	if utf8.ValidString(line) {
		return line
	}
	return strings.ToValidUTF8(line, "\uFFFD")
}

// readLines reads r until EOF or an error (e.g. r was closed by Run) and
// delivers its lines to sink. A final line without a newline is delivered too.
func readLines(r io.Reader, stream Stream, sink *lineSink) {
	buf := make([]byte, readBufBytes)
	start, end := 0, 0
	for {
		searched := end - start // what is left was searched for '\n' already
		n, err := r.Read(buf[end:])
		end += n
		atEOF := err != nil
		start += sink.deliver(stream, buf[start:end], searched, atEOF)
		if atEOF {
			return
		}
		switch {
		case start == end:
			start, end = 0, 0
		case len(buf)-end < MaxLineBytes:
			// Make room: move the unfinished line (at most MaxLineBytes+1
			// bytes) to the front.
			end = copy(buf, buf[start:end])
			start = 0
		}
	}
}
