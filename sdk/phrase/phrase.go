// Package phrase writes the small pieces of text that Cajon's messages are
// made of, the same way in the host and the plugins: "3 warnings", a value
// cut to fit a log line. Plugin authors may use it for their own messages.
package phrase

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Count writes n things: "1 warning", "3 warnings", "0 warnings". what is
// the singular; the plural adds an s.
func Count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// Plural returns one when n is 1, else many: for words whose plural is not
// an added s ("it will", "they will").
func Plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Cut returns s when it has at most n bytes, else its first n bytes or
// fewer, cut at a character boundary, with "…" after them.
func Cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	n = max(n, 0)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// FirstLine returns s up to its first line break.
func FirstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}
