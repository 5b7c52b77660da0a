package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/plugins/internal/ospath"
)

func TestFramesInArgs(t *testing.T) {
	tests := []struct {
		args string
		want int64
	}{
		{"", 0},
		{"-f 5", 1},
		{"--render-frame 1..3", 3},
		{"--scene Scene --python-expr x --render-output /r/###### --render-format PNG --render-frame 10..19", 10},
		{"-f 1,3,7..9", 5},
		{"-f 1 -f 2..3", 3},
		{"-f +1", 0},
		{"-f -1", 0},
		{"-f 3..1", 0},
		{"-f 1..", 0},
		{"-f abc", 0},
		{"-f", 0},
		{"-s 1 -e 10 -a", 10},
		{"--frame-start 1 --frame-end 10 --frame-jump 3 --render-anim", 4},
		{"-s 5 -a", 0},
		{"-a", 0},
		{"-s 1 -e 10", 0}, // no -a: nothing rendered by these
		{"-s +1 -e 10 -a", 0},
		{"-j 0 -s 1 -e 2 -a", 0},
		{"--python-expr -f -f 2", 1},
		{"-f 2 -- -f 5", 1},
	}
	for _, tt := range tests {
		var args []string
		if tt.args != "" {
			args = strings.Fields(tt.args)
		}
		if got := framesInArgs(args); got != tt.want {
			t.Errorf("framesInArgs(%q) = %d, want %d", tt.args, got, tt.want)
		}
	}
}

func TestOutputDirsInArgs(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--render-output", "/renders/shot/######", "--render-frame", "1..2"}, "/renders/shot"},
		{[]string{"-o", "/renders/shot/"}, "/renders/shot/"},
		{[]string{"-o", "//relative/to/blend_####"}, ""},
		{[]string{"--python-expr", "-o", "-o", "out/frame_#"}, "out"},
		{[]string{"-o", "frame_#"}, ""},
		{[]string{"--", "-o", "/for/the/script"}, ""},
		{[]string{"-o"}, ""},
	}
	for _, tc := range cases {
		if got := strings.Join(outputDirsInArgs(ospath.Unix, tc.args), ","); got != tc.want {
			t.Errorf("outputDirsInArgs(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}

func TestFramePath(t *testing.T) {
	tests := []struct {
		pattern string
		frame   int64
		want    string
	}{
		{"/r/shot/######", 12, "/r/shot/000012"},
		{"/r/shot/frame-##.png", 7, "/r/shot/frame-07.png"},
		{"/r/shot/frame-#", 123, "/r/shot/frame-123"},
		{"/r/sh#ot/frame_", 5, "/r/sh#ot/frame_0005"}, // hashes in a folder do not count
		{"/r/a##b###", 3, "/r/a##b003"},               // the last run
		{`C:\r\frame-####`, 2, `C:\r\frame-0002`},
	}
	for _, tt := range tests {
		if got := framePath(tt.pattern, tt.frame); got != tt.want {
			t.Errorf("framePath(%q, %d) = %q, want %q", tt.pattern, tt.frame, got, tt.want)
		}
	}
}

func TestAskedFramesInArgs(t *testing.T) {
	tests := []struct {
		args    string
		asks    bool
		frames  string
		pattern string
	}{
		{"", false, "[]", ""},
		{"-o /r/#### -f 1,3..4", true, "[1 3 4]", "/r/####"},
		{"-o /r/a -o /r/b -s 2 -e 8 -j 3 -a", true, "[2 5 8]", "/r/b"},
		{"-f +1", true, "[]", ""},
		{"-a", true, "[]", ""},
		{"-f 1..100000", true, "[]", ""}, // too many to look for
		{"--python-expr -o -f 2 -- -f 5", true, "[2]", ""},
	}
	for _, tt := range tests {
		var args []string
		if tt.args != "" {
			args = strings.Fields(tt.args)
		}
		a := askedFramesInArgs(args, "/blend")
		if a.asks != tt.asks || fmt.Sprint(a.frames) != tt.frames || a.pattern != tt.pattern {
			t.Errorf("askedFramesInArgs(%q) = asks %v, frames %v, pattern %q; want %v, %s, %q", tt.args, a.asks, a.frames, a.pattern, tt.asks, tt.frames, tt.pattern)
		}
	}
}

func TestWorkAfterFrames(t *testing.T) {
	tests := []struct {
		args, want string
	}{
		{"", ""},
		{"-o /r/#### -f 1", ""},
		{"--python-expr x -o /r/#### -f 1..3", ""},
		{"-f 1 --python-expr x", "--python-expr"},
		{"-a -P post.py", "-P"},
		{"-f 1 --python post.py -f 2", ""},
		{"-f 1 --python-text Text --python-expr x", "--python-text"},
		{"-f 1 --python-console", "--python-console"},
		{"-f 1 -- --python-expr x", ""},
		{"-f 1 -o --python-expr", ""}, // the output path, not the option
	}
	for _, tt := range tests {
		var args []string
		if tt.args != "" {
			args = strings.Fields(tt.args)
		}
		if got := workAfterFrames(args); got != tt.want {
			t.Errorf("workAfterFrames(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}
