package sdk_test

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cajonfarm/cajon/sdk"
	"github.com/cajonfarm/cajon/sdk/process"
	"github.com/cajonfarm/cajon/sdk/sdktest"
)

// badText is a log line that is not valid UTF-8 (parameters cannot carry one).
const badText = "a\xffb\xfe\xfd\x00c"

// rawText logs, and sets as activity, text that does not fit the wire as is.
type rawText struct {
	Bad  bool `param:"bad"`
	Long int  `param:"long"`
}

func (r *rawText) Run(_ context.Context, run *sdk.Run) error {
	text := "x"
	if r.Bad {
		text = badText
	}
	run.Log(text)
	run.Activity(text)
	if r.Long > 0 {
		run.Log(strings.Repeat("é", r.Long/2)) // two bytes a rune: cuts must respect them
	}
	run.Log("after")
	return nil
}

// TestLogTextFitsTheWire: a plugin's own log lines and activity may hold any
// bytes and be of any length; the run must still complete, with valid UTF-8
// lines no longer than process.MaxLineBytes.
func TestLogTextFitsTheWire(t *testing.T) {
	p := sdk.Plugin{Name: "t", Commands: []sdk.Command{sdk.NewCommand[rawText]("raw", "misc", "")}}
	cases := []struct {
		name      string
		bad       bool
		long      int
		wantLines []string // the lines before "after", when checked whole
	}{
		{"invalid UTF-8 and NUL", true, 0, []string{"a\uFFFDb\uFFFD\x00c"}},
		{"one line of 1 MiB", false, 1 << 20, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := sdktest.Run(t, p, "raw", map[string]any{"bad": c.bad, "long": c.long})
			if res.Status != sdktest.Completed {
				t.Fatalf("status %s: %s", res.Status, res.Message)
			}
			if len(res.Lines) == 0 || res.Lines[len(res.Lines)-1] != "after" {
				t.Fatalf("the run's last line is not %q: %d lines", "after", len(res.Lines))
			}
			for i, l := range res.Lines {
				if !utf8.ValidString(l) || len(l) > process.MaxLineBytes {
					t.Errorf("line %d: %d bytes, valid UTF-8 %v", i, len(l), utf8.ValidString(l))
				}
			}
			for _, pr := range res.Progress {
				if !utf8.ValidString(pr.Activity) {
					t.Errorf("activity %q is not valid UTF-8", pr.Activity)
				}
			}
			if c.wantLines != nil && strings.Join(res.Lines[:len(res.Lines)-1], "\n") != strings.Join(c.wantLines, "\n") {
				t.Errorf("lines %q, want %q", res.Lines[:len(res.Lines)-1], c.wantLines)
			}
			if c.long > 0 {
				joined := strings.Join(res.Lines[1:len(res.Lines)-1], "")
				if joined != strings.Repeat("é", c.long/2) {
					t.Errorf("the long line's pieces do not add up to it (%d bytes)", len(joined))
				}
				if n := len(res.Lines) - 2; n < c.long/process.MaxLineBytes {
					t.Errorf("the long line came in %d pieces, want at least %d", n, c.long/process.MaxLineBytes)
				}
			}
		})
	}
}
