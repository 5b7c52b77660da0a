package main

import (
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/plugins/internal/ospath"
)

// The path logic with the paths a Windows node sees: Blender's own output
// (backslashes, or forward slashes after a drive), and the Manager's
// two-way variables (drive letters, UNC shares, mixed separators). It runs
// on every OS; the Windows syntax is checked against path/filepath on
// Windows (plugins/internal/ospath).

func TestResolveWindows(t *testing.T) {
	cases := []struct{ workDir, path, want string }{
		{`C:\jobs\shot`, `C:\render\shot\0001.png`, `C:\render\shot\0001.png`},
		{`C:\jobs\shot`, `C:/render/shot/0001.png`, `C:\render\shot\0001.png`},
		{`C:\jobs\shot`, `frames\0001.png`, `C:\jobs\shot\frames\0001.png`},
		{`C:\jobs\shot`, `frames/../0001.png`, `C:\jobs\shot\0001.png`},
		{`C:\jobs\shot`, `\\server\share\render\0001.exr`, `\\server\share\render\0001.exr`},
		{`C:\jobs\shot`, `\\server\share/render/0001.exr`, `\\server\share\render\0001.exr`},
		{`\\server\share\jobs`, `shot.blend`, `\\server\share\jobs\shot.blend`},
		{`\\server\share\jobs`, `..\..\..\x.blend`, `\\server\share\x.blend`},
	}
	for _, c := range cases {
		if got := resolveIn(ospath.Windows, c.workDir, c.path); got != c.want {
			t.Errorf("resolveIn(windows, %s, %s) = %s, want %s", c.workDir, c.path, got, c.want)
		}
	}
}

func TestPreviewNameWindows(t *testing.T) {
	cases := []struct{ frame, want string }{
		{`C:\render\shot\000012.png`, "0003-000012.jpg"},
		{`C:/render/shot/000012.exr`, "0003-000012.jpg"},
		{`\\server\share\render\shot_v2.0001.exr`, "0003-shot_v2.0001.jpg"},
		{`\\server\share\render.v2\frame`, "0003-frame.jpg"},
	}
	for _, c := range cases {
		if got := previewName(ospath.Windows, 3, c.frame); got != c.want {
			t.Errorf("previewName(windows, %s) = %s, want %s", c.frame, got, c.want)
		}
	}
}

func TestOutputDirsInArgsWindows(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"-o", `C:\render\shot\frame_######`}, `C:\render\shot`},
		{[]string{"-o", `C:/render/shot/frame_######`}, `C:\render\shot`},
		{[]string{"--render-output", `\\server\share\render\shot\`}, `\\server\share\render\shot\`},
		{[]string{"-o", `\\server\share\render\shot\######`}, `\\server\share\render\shot`},
		{[]string{"-o", `\\server\share/render/######`}, `\\server\share\render`},
		{[]string{"-o", `//relative/to/blend_####`}, ""},
		{[]string{"-o", `frames\f_##`}, "frames"},
	}
	for _, c := range cases {
		if got := strings.Join(outputDirsInArgs(ospath.Windows, c.args), ","); got != c.want {
			t.Errorf("outputDirsInArgs(windows, %q) = %q, want %q", c.args, got, c.want)
		}
	}
}

// TestSavedLinesWindows follows Windows Blender's Saved lines through the
// tracker to the output the host gets: the path keeps its backslashes and
// its share, CRLF line ends included.
func TestSavedLinesWindows(t *testing.T) {
	cases := []struct{ line, want string }{
		{"Saved: 'C:\\render\\shot\\0001.png'\r", `C:\render\shot\0001.png`},
		{"Saved: '\\\\server\\share\\render\\0001.exr'", `\\server\share\render\0001.exr`},
		{"00:00.327  render           | Saved: 'C:/render/shot/0002.png'\r", `C:\render\shot\0002.png`},
		{"skipping existing frame \"C:\\render\\0003.png\"\r", ""},
	}
	for _, c := range cases {
		var tr tracker
		u := tr.feed(c.line)
		if got := u.saved; c.want == "" && got != "" || c.want != "" && resolveIn(ospath.Windows, `C:\job`, got) != c.want {
			t.Errorf("%q: saved %q, resolved to %q, want %q", c.line, got, resolveIn(ospath.Windows, `C:\job`, got), c.want)
		}
		if !u.frameDone {
			t.Errorf("%q did not finish a frame", c.line)
		}
	}
}
