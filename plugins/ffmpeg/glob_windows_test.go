package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/internal/testtemp"
)

// TestExpandGlobWindows globs real frames through the forms a Windows
// node's inputGlob takes: backslashes, forward slashes, both mixed, the
// \\?\ form, and relative to the task's folder.
func TestExpandGlobWindows(t *testing.T) {
	dir := testtemp.Dir(t)
	frames := filepath.Join(dir, "render", "shot")
	if err := os.MkdirAll(frames, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"frame10.png", "frame2.png", "frame1.png", "other.jpg"} {
		if err := os.WriteFile(filepath.Join(frames, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	slashed := filepath.ToSlash(frames)
	cases := []struct{ pattern, dir string }{
		{frames + `\frame*.png`, ""},
		{slashed + `/frame*.png`, ""},
		{filepath.Join(dir, "render") + `/shot\frame*.png`, ""},
		{`\\?\` + frames + `\frame*.png`, ""},
		{`shot\frame*.png`, filepath.Join(dir, "render")},
		{`shot/frame*.png`, filepath.Join(dir, "render")},
	}
	for _, c := range cases {
		got, err := expandGlob(c.pattern, c.dir)
		if err != nil {
			t.Errorf("expandGlob(%s, %s): %v", c.pattern, c.dir, err)
			continue
		}
		var names []string
		for _, g := range got {
			if !strings.Contains(g, `\`) || strings.Contains(g, "/") {
				t.Errorf("expandGlob(%s) gave %s, not a path with backslashes only", c.pattern, g)
			}
			names = append(names, filepath.Base(g))
		}
		if want := []string{"frame1.png", "frame2.png", "frame10.png"}; !reflect.DeepEqual(names, want) {
			t.Errorf("expandGlob(%s, %s) = %q, want %q", c.pattern, c.dir, names, want)
		}
	}
}
