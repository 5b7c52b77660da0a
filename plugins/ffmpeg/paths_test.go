package main

import (
	"testing"

	"github.com/cajonfarm/cajon/plugins/internal/ospath"
)

// TestInputPatternWindows: inputGlob as a Windows node gets it. Runs on
// every OS; on Windows, TestExpandGlobWindows globs such patterns for real.
func TestInputPatternWindows(t *testing.T) {
	cases := []struct{ pattern, dir, want string }{
		{`C:\render\shot\*.png`, "", `C:\render\shot\*.png`},
		{`C:/render/shot/*.png`, "", `C:\render\shot\*.png`},
		{`\\server\share\render\shot\*.exr`, `C:\job`, `\\server\share\render\shot\*.exr`},
		{`\\server\share/render/shot/frame_*.png`, "", `\\server\share\render\shot\frame_*.png`},
		{`//server/share/render/*.png`, "", `\\server\share\render\*.png`},
		{`\\server\share\render\..\..\*.png`, "", `\\server\share\*.png`},
		{`frames\*.png`, `\\server\share\job`, `\\server\share\job\frames\*.png`},
		{`frames/*.png`, `C:\job`, `C:\job\frames\*.png`},
		{`\\?\C:\render\*.png`, "", `\\?\C:\render\*.png`},
	}
	for _, c := range cases {
		got, err := inputPattern(ospath.Windows, c.pattern, c.dir)
		if err != nil || got != c.want {
			t.Errorf("inputPattern(windows, %s, %s) = %s, %v; want %s", c.pattern, c.dir, got, err, c.want)
		}
	}
}
