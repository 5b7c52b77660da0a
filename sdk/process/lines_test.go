package process

import (
	"bytes"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

// collect runs readLines over input and returns the delivered lines.
func collect(t *testing.T, r io.Reader) []string {
	t.Helper()
	var lines []string
	sink := &lineSink{onLine: func(s Stream, line string) {
		if s != Stdout {
			t.Errorf("stream = %v, want stdout", s)
		}
		lines = append(lines, line)
	}}
	readLines(r, Stdout, sink)
	return lines
}

func TestReadLines(t *testing.T) {
	const max = MaxLineBytes
	x := func(n int) string { return strings.Repeat("x", n) }
	tests := []struct {
		name  string
		input string
		want  []string
	}{
		{name: "empty", input: "", want: nil},
		{name: "lines", input: "a\nbc\n", want: []string{"a", "bc"}},
		{name: "empty lines", input: "\n\n", want: []string{"", ""}},
		{name: "final line without newline", input: "a\nlast", want: []string{"a", "last"}},
		{name: "CRLF ends a line", input: "a\r\nb\r\n", want: []string{"a", "b"}},
		{name: "lone CR is kept", input: "10%\r20%\rdone\n", want: []string{"10%\r20%\rdone"}},
		{name: "final CR is kept", input: "a\r", want: []string{"a\r"}},
		{name: "CR CR LF keeps one CR", input: "a\r\r\n", want: []string{"a\r"}},
		{name: "invalid UTF-8 is replaced", input: "a\xffb\xfe\xfdc\n", want: []string{"a\uFFFDb\uFFFDc"}},
		{name: "line of exactly max bytes", input: x(max) + "\n", want: []string{x(max)}},
		{name: "line of exactly max bytes with CRLF", input: x(max) + "\r\n", want: []string{x(max)}},
		{name: "line of max+1 bytes", input: x(max+1) + "\n", want: []string{x(max), "x"}},
		{name: "line of max+1 bytes with CRLF", input: x(max+1) + "\r\n", want: []string{x(max), "x"}},
		{name: "CR at the cut is kept", input: x(max) + "\ry\n", want: []string{x(max), "\ry"}},
		{
			name:  "long line, then short ones",
			input: x(2*max+3) + "\nshort\n",
			want:  []string{x(max), x(max), "xxx", "short"},
		},
		{
			name:  "2-byte rune across the edge moves to the next piece",
			input: x(max-1) + "é" + "\n",
			want:  []string{x(max - 1), "é"},
		},
		{
			name:  "3-byte rune across the edge moves to the next piece",
			input: x(max-2) + "€" + "tail\n",
			want:  []string{x(max - 2), "€tail"},
		},
		{
			name:  "4-byte rune across the edge moves to the next piece",
			input: x(max-1) + "😀" + "\n",
			want:  []string{x(max - 1), "😀"},
		},
		{
			name:  "4-byte rune ending at the edge stays",
			input: x(max-4) + "😀" + "y\n",
			want:  []string{x(max-4) + "😀", "y"},
		},
		{
			name:  "invalid bytes at the edge are cut at max and replaced",
			input: x(max-1) + "\xff\xfe" + "\n",
			want:  []string{x(max-1) + "\uFFFD", "\uFFFD"},
		},
	}
	readers := []struct {
		name string
		wrap func(io.Reader) io.Reader
	}{
		{name: "whole", wrap: func(r io.Reader) io.Reader { return r }},
		{name: "one byte at a time", wrap: iotest.OneByteReader},
		{name: "half reads", wrap: iotest.HalfReader},
	}
	for _, tt := range tests {
		for _, rd := range readers {
			t.Run(tt.name+"/"+rd.name, func(t *testing.T) {
				got := collect(t, rd.wrap(strings.NewReader(tt.input)))
				if !slices.Equal(got, tt.want) {
					t.Errorf("lines = %s, want %s", summarize(got), summarize(tt.want))
				}
			})
		}
	}
}

// TestReadLinesGiantLine feeds a 1 MiB line of multibyte runes without a
// newline: every piece must be valid UTF-8, at most MaxLineBytes long, and
// together they must be the input.
func TestReadLinesGiantLine(t *testing.T) {
	input := strings.Repeat("aé€😀", (1<<20)/10)
	got := collect(t, iotest.HalfReader(strings.NewReader(input)))
	for i, piece := range got {
		if len(piece) > MaxLineBytes || len(piece) < MaxLineBytes-utf8.UTFMax {
			if i != len(got)-1 {
				t.Errorf("piece %d is %d bytes, want %d-%d", i, len(piece), MaxLineBytes-utf8.UTFMax+1, MaxLineBytes)
			}
		}
		if !utf8.ValidString(piece) {
			t.Errorf("piece %d is not valid UTF-8 (a rune was split)", i)
		}
	}
	if joined := strings.Join(got, ""); joined != input {
		t.Errorf("pieces joined are %d bytes, differ from the %d-byte input", len(joined), len(input))
	}
}

// TestReadLinesStopsWhenClosed checks that closing the read end of a pipe
// that a writer still holds open ends readLines, and that the unfinished line
// is still delivered.
func TestReadLinesStopsWhenClosed(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var lines []string
	first := make(chan struct{})
	sink := &lineSink{onLine: func(_ Stream, l string) {
		lines = append(lines, l)
		if len(lines) == 1 {
			close(first)
		}
	}}
	done := make(chan struct{})
	go func() { readLines(r, Stdout, sink); close(done) }()
	if _, err := w.WriteString("done\npartial"); err != nil {
		t.Fatal(err)
	}
	<-first // the reader has read everything and waits for more
	r.Close()
	<-done
	if !slices.Equal(lines, []string{"done", "partial"}) {
		t.Errorf("lines = %q, want [done partial]", lines)
	}
}

// TestLineSinkStop checks that no line is delivered after stop.
func TestLineSinkStop(t *testing.T) {
	var lines []string
	sink := &lineSink{onLine: func(_ Stream, l string) { lines = append(lines, l) }}
	sink.deliver(Stdout, []byte("a\n"), 0, false)
	sink.stop()
	if n := sink.deliver(Stdout, []byte("b\nc"), 0, true); n != 3 {
		t.Errorf("deliver after stop used %d bytes, want all 3", n)
	}
	if !slices.Equal(lines, []string{"a"}) {
		t.Errorf("lines = %q, want [a]", lines)
	}
}

func summarize(lines []string) string {
	var b bytes.Buffer
	b.WriteString("[")
	for i, l := range lines {
		if i > 0 {
			b.WriteString(" ")
		}
		if len(l) > 16 {
			b.WriteString(strings.ReplaceAll(l[:8], "\r", `\r`) + "...(" + strconv.Itoa(len(l)) + " bytes)..." + strings.ReplaceAll(l[len(l)-4:], "\r", `\r`))
		} else {
			b.WriteString(strings.ReplaceAll(l, "\r", `\r`))
		}
	}
	b.WriteString("]")
	return b.String()
}
