package wire

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestWarning(t *testing.T) {
	long := strings.Repeat("é", MaxWarningBytes) // 2 bytes each
	tests := []struct {
		name, in, want string
	}{
		{"plain", "Blender reported an error", "Blender reported an error"},
		{"trimmed", "  spaced \n", "spaced"},
		{"first line of several", "Python: Traceback\n  File x\nTypeError: y", "Python: Traceback ..."},
		{"invalid UTF-8", "bad \xff byte", "bad \uFFFD byte"},
		{"cut at a rune", long, strings.Repeat("é", MaxWarningBytes/2) + "..."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Warning(tt.in)
			if got != tt.want {
				t.Errorf("Warning(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if !utf8.ValidString(got) {
				t.Errorf("Warning(%q) is not valid UTF-8", tt.in)
			}
		})
	}
}

func TestWarningsBounded(t *testing.T) {
	for _, n := range []int{0, 1, MaxWarnings, MaxWarnings + 1, 100} {
		var in []string
		for i := range n {
			in = append(in, fmt.Sprintf("w%d", i), "") // empty ones are dropped
		}
		got := Warnings(in)
		want := min(n, MaxWarnings)
		if len(got) != want {
			t.Fatalf("%d warnings: kept %d, want %d", n, len(got), want)
		}
		if n > MaxWarnings {
			if w := fmt.Sprintf("(and %d more warnings, see the task log)", n-MaxWarnings+1); got[len(got)-1] != w {
				t.Errorf("%d warnings: last is %q, want %q", n, got[len(got)-1], w)
			}
		} else if n > 0 && got[n-1] != fmt.Sprintf("w%d", n-1) {
			t.Errorf("%d warnings: last is %q", n, got[n-1])
		}
	}
}
