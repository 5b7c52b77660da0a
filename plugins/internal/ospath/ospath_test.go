package ospath

import "testing"

// windowsPaths are the Windows paths every answer is checked for, here
// against the expected values and, on Windows, against path/filepath
// (filepath_windows_test.go): the shapes a Manager's two-way variables
// produce, mixed separators, and device paths.
var windowsPaths = []string{
	`C:\render\shot\0001.png`, `c:/render/shot/0001.png`, `C:\render\shot\`, `C:\`, `C:`, `C:x\y`,
	`C:\render\..\..\x`, `C:\render\.\a\..\b`, `\\server\share\render\f.exr`, `\\server\share`,
	`\\server\share\`, `\\server\share\..\x`, `//server/share/render/f.png`, `\\server\share/jobs/x.blend`,
	`\\?\C:\render\f.png`, `\\?\UNC\server\share\f.png`, `\render\x`, `render\shot\f.png`, `.`, `..\x`,
	`C:\a.b\frame`, `C:\render\frame.0001.tar.gz`, `\\.\UNC\server\share\x`,
}

func TestWindows(t *testing.T) {
	w := Windows
	cases := []struct {
		path           string
		vol            string
		abs            bool
		clean, dir     string
		base, ext      string
		splitD, splitF string
	}{
		{`C:\render\shot\0001.png`, `C:`, true, `C:\render\shot\0001.png`, `C:\render\shot`, `0001.png`, `.png`, `C:\render\shot\`, `0001.png`},
		{`c:/render/shot/0001.png`, `c:`, true, `c:\render\shot\0001.png`, `c:\render\shot`, `0001.png`, `.png`, `c:/render/shot/`, `0001.png`},
		{`C:\render\shot\`, `C:`, true, `C:\render\shot`, `C:\render\shot`, `shot`, ``, `C:\render\shot\`, ``},
		{`C:\`, `C:`, true, `C:\`, `C:\`, `\`, ``, `C:\`, ``},
		{`C:`, `C:`, false, `C:.`, `C:.`, `\`, ``, `C:`, ``},
		{`C:x\y`, `C:`, false, `C:x\y`, `C:x`, `y`, ``, `C:x\`, `y`},
		{`C:\render\..\..\x`, `C:`, true, `C:\x`, `C:\`, `x`, ``, `C:\render\..\..\`, `x`},
		{`C:\render\.\a\..\b`, `C:`, true, `C:\render\b`, `C:\render`, `b`, ``, `C:\render\.\a\..\`, `b`},
		{`\\server\share\render\f.exr`, `\\server\share`, true, `\\server\share\render\f.exr`, `\\server\share\render`, `f.exr`, `.exr`, `\\server\share\render\`, `f.exr`},
		{`\\server\share`, `\\server\share`, true, `\\server\share`, `\\server\share`, `\`, ``, `\\server\share`, ``},
		{`\\server\share\`, `\\server\share`, true, `\\server\share\`, `\\server\share\`, `\`, ``, `\\server\share\`, ``},
		{`\\server\share\..\x`, `\\server\share`, true, `\\server\share\x`, `\\server\share\`, `x`, ``, `\\server\share\..\`, `x`},
		{`//server/share/render/f.png`, `\\server\share`, true, `\\server\share\render\f.png`, `\\server\share\render`, `f.png`, `.png`, `//server/share/render/`, `f.png`},
		{`\\server\share/jobs/x.blend`, `\\server\share`, true, `\\server\share\jobs\x.blend`, `\\server\share\jobs`, `x.blend`, `.blend`, `\\server\share/jobs/`, `x.blend`},
		{`\\?\C:\render\f.png`, `\\?\C:`, true, `\\?\C:\render\f.png`, `\\?\C:\render`, `f.png`, `.png`, `\\?\C:\render\`, `f.png`},
		{`\\?\UNC\server\share\f.png`, `\\?\UNC`, true, `\\?\UNC\server\share\f.png`, `\\?\UNC\server\share`, `f.png`, `.png`, `\\?\UNC\server\share\`, `f.png`},
		{`\render\x`, ``, false, `\render\x`, `\render`, `x`, ``, `\render\`, `x`},
		{`render\shot\f.png`, ``, false, `render\shot\f.png`, `render\shot`, `f.png`, `.png`, `render\shot\`, `f.png`},
		{`.`, ``, false, `.`, `.`, `.`, `.`, ``, `.`},
		{`..\x`, ``, false, `..\x`, `..`, `x`, ``, `..\`, `x`},
		{`C:\a.b\frame`, `C:`, true, `C:\a.b\frame`, `C:\a.b`, `frame`, ``, `C:\a.b\`, `frame`},
		{`C:\render\frame.0001.tar.gz`, `C:`, true, `C:\render\frame.0001.tar.gz`, `C:\render`, `frame.0001.tar.gz`, `.gz`, `C:\render\`, `frame.0001.tar.gz`},
		{`\\.\UNC\server\share\x`, `\\.\UNC\server\share`, true, `\\.\UNC\server\share\x`, `\\.\UNC\server\share\`, `x`, ``, `\\.\UNC\server\share\`, `x`},
	}
	if len(cases) != len(windowsPaths) {
		t.Fatalf("%d cases for %d paths", len(cases), len(windowsPaths))
	}
	for i, c := range cases {
		if c.path != windowsPaths[i] {
			t.Fatalf("case %d is %s, windowsPaths has %s", i, c.path, windowsPaths[i])
		}
		check := func(what, got, want string) {
			t.Helper()
			if got != want {
				t.Errorf("%s(%s) = %s, want %s", what, c.path, got, want)
			}
		}
		check("VolumeName", w.VolumeName(c.path), c.vol)
		if got := w.IsAbs(c.path); got != c.abs {
			t.Errorf("IsAbs(%s) = %v", c.path, got)
		}
		check("Clean", w.Clean(c.path), c.clean)
		check("Dir", w.Dir(c.path), c.dir)
		check("Base", w.Base(c.path), c.base)
		check("Ext", w.Ext(c.path), c.ext)
		d, f := w.Split(c.path)
		check("Split dir", d, c.splitD)
		check("Split file", f, c.splitF)
	}
}

// windowsJoins are the Join cases, checked here and against filepath.Join
// on Windows.
var windowsJoins = []struct {
	elem []string
	want string
}{
	{[]string{`C:\job`, `frames\*.png`}, `C:\job\frames\*.png`},
	{[]string{`C:\job\`, `\frames`}, `C:\job\frames`},
	{[]string{`C:`, `x`}, `C:x`},
	{[]string{`\\server\share`, `render`, `f.png`}, `\\server\share\render\f.png`},
	{[]string{`\\server\share\job`, `..\f.png`}, `\\server\share\f.png`},
	{[]string{``, `a`, ``, `b`}, `a\b`},
	{[]string{`\`, `\x`}, `\x`},
	{[]string{``, ``}, ``},
	{[]string{`C:\job`, `/a/b`}, `C:\job\a\b`},
}

func TestWindowsJoin(t *testing.T) {
	for _, c := range windowsJoins {
		if got := Windows.Join(c.elem...); got != c.want {
			t.Errorf("Join(%q) = %s, want %s", c.elem, got, c.want)
		}
	}
}

func TestWithin(t *testing.T) {
	cases := []struct {
		s          Syntax
		path, root string
		want       bool
	}{
		{Windows, `C:\Render\Shot\f.png`, `c:\render`, true},
		{Windows, `c:/render/shot`, `C:\RENDER\`, true},
		{Windows, `C:\render`, `C:\render`, true},
		{Windows, `C:\render2\x`, `C:\render`, false},
		{Windows, `C:\rend`, `C:\render`, false},
		{Windows, `D:\render\x`, `C:\render`, false},
		{Windows, `C:\render\..\secret`, `C:\render`, false},
		{Windows, `C:\render\a\..\b`, `C:\render`, true},
		{Windows, `C:\anything`, `C:\`, true},
		{Windows, `\\SERVER\Share\render\f.exr`, `\\server\share`, true},
		{Windows, `//server/share/render`, `\\server\share\render`, true},
		{Windows, `\\server\share2\render`, `\\server\share`, false},
		{Windows, `\\server2\share\render`, `\\server\share`, false},
		{Windows, `\\server\share\..\..\other\x`, `\\server\share`, true}, // ".." stops at the share
		{Windows, `\\?\C:\render\f.png`, `C:\render`, true},
		{Windows, `C:\render\f.png`, `\\?\c:\render`, true},
		{Windows, `\\?\UNC\server\share\f.png`, `\\Server\Share`, true},
		{Windows, `\\.\C:\render`, `C:\render`, true},
		{Windows, `\\.\UNC\server\share\x`, `\\server\share`, true},
		{Windows, `\\?\UNC\server\share2\x`, `\\server\share`, false},
		{Windows, `\\?\D:\render`, `C:\render`, false},
		{Windows, `C:\render`, `\\server\share`, false},
		{Unix, `/render/shot/f.png`, `/render`, true},
		{Unix, `/Render/shot`, `/render`, false},
		{Unix, `/render2`, `/render`, false},
		{Unix, `/render/../etc`, `/render`, false},
		{Unix, `/anything`, `/`, true},
		{Unix, `/render`, `/render/`, true},
	}
	for _, c := range cases {
		if got := c.s.Within(c.path, c.root); got != c.want {
			t.Errorf("%s: Within(%s, %s) = %v, want %v", c.s, c.path, c.root, got, c.want)
		}
	}
}

func TestUnix(t *testing.T) {
	u := Unix
	if u.IsAbs(`C:\x`) || !u.IsAbs("/x") || u.VolumeName(`C:\x`) != "" || u.IsSeparator('\\') {
		t.Error("Unix takes Windows syntax")
	}
	if got := u.Base(`/r/C:\x.png`); got != `C:\x.png` {
		t.Errorf("Base = %s", got)
	}
	if got := u.Join("/job", "../f"); got != "/f" {
		t.Errorf("Join = %s", got)
	}
}
