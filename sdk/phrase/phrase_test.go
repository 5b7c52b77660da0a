package phrase_test

import (
	"testing"

	"github.com/cajonfarm/cajon/sdk/phrase"
)

func TestCount(t *testing.T) {
	for _, tt := range []struct {
		n    int
		want string
	}{{0, "0 warnings"}, {1, "1 warning"}, {3, "3 warnings"}} {
		if got := phrase.Count(tt.n, "warning"); got != tt.want {
			t.Errorf("Count(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
	if got := phrase.Plural(2, "it will", "they will"); got != "they will" {
		t.Errorf("Plural(2) = %q", got)
	}
}

func TestCut(t *testing.T) {
	for _, tt := range []struct {
		s    string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"a longer line", 8, "a longer…"},
		{"héllo", 2, "h…"}, // é is two bytes: not cut in half
		{"abc", 0, "…"},
		{"abc", -1, "…"},
	} {
		if got := phrase.Cut(tt.s, tt.n); got != tt.want {
			t.Errorf("Cut(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
		}
	}
}

func TestFirstLine(t *testing.T) {
	for in, want := range map[string]string{"one": "one", "one\ntwo": "one", "one\r\ntwo": "one", "": ""} {
		if got := phrase.FirstLine(in); got != want {
			t.Errorf("FirstLine(%q) = %q, want %q", in, got, want)
		}
	}
}
