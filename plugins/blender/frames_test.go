package main

import (
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
