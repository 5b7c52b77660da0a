package plugins

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestStderrTail: the tail keeps the last lines, within both bounds, in the
// pieces go-plugin writes them (a line, then its newline).
func TestStderrTail(t *testing.T) {
	numbered := func(from, to int) []string {
		var out []string
		for i := from; i <= to; i++ {
			out = append(out, fmt.Sprintf("line %d", i))
		}
		return out
	}
	wide := strings.Repeat("x", stderrTailLineBytes+100)
	cases := []struct {
		name   string
		writes []string
		want   []string
	}{
		{name: "nothing", want: nil},
		{name: "lines as go-plugin writes them", writes: []string{"one", "\n", "two", "\n"}, want: []string{"one", "two"}},
		{name: "several lines in one write, the last not ended", writes: []string{"one\r\ntwo\nthr", "ee"}, want: []string{"one", "two", "three"}},
		{name: "blank lines at the end", writes: []string{"why\n\n  \n"}, want: []string{"why"}},
		{name: "more lines than it keeps", writes: []string{strings.Join(numbered(1, 50), "\n") + "\n"}, want: numbered(31, 50)},
		{name: "a line wider than it keeps, in pieces", writes: []string{"before\n", wide[:100], wide[100:], "\n", "after\n"},
			want: []string{"before", wide[:stderrTailLineBytes] + stderrCut, "after"}},
		{name: "a line cut before its end", writes: []string{wide}, want: []string{wide[:stderrTailLineBytes] + stderrCut}},
		{name: "more bytes than it keeps", writes: []string{strings.Repeat(strings.Repeat("y", 999)+"\n", 6)},
			want: slices.Repeat([]string{strings.Repeat("y", 999)}, stderrTailBytes/1000)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var tail stderrTail
			for _, w := range tc.writes {
				if n, err := tail.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			got := tail.Lines()
			if !slices.Equal(got, tc.want) {
				t.Errorf("lines %q\nwant %q", got, tc.want)
			}
			if q := tail.quote(); (q == "") != (len(tc.want) == 0) {
				t.Errorf("quote %q", q)
			}
		})
	}
}

// BenchmarkStderrTail is the cost of one stderr line of a plugin, which
// passes through the tail for the plugin's whole life, written as go-plugin
// writes it (the line, then its newline).
func BenchmarkStderrTail(b *testing.B) {
	var tail stderrTail
	line := []byte(`{"@level":"debug","@message":"rendering frame 12 of 250","@timestamp":"2026-01-01T00:00:00.000000Z"}`)
	nl := []byte{'\n'}
	b.ReportAllocs()
	for b.Loop() {
		tail.Write(line)
		tail.Write(nl)
	}
}
