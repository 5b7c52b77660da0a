package main

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/plugins/internal/cmdline"
	"github.com/cajonfarm/cajon/plugins/internal/ospath"
)

func TestElsewhereFor(t *testing.T) {
	cases := []struct {
		goos, where string
		ok          bool
	}{
		{"windows", "the program Windows opens .blend files with", true},
		{"darwin", "/Applications/Blender.app/Contents/MacOS/Blender", true},
		{"linux", "", false},
		{"freebsd", "", false},
	}
	for _, c := range cases {
		got, ok := elsewhereFor(c.goos)
		if ok != c.ok || got.where != c.where || (ok && got.find == nil) {
			t.Errorf("elsewhereFor(%s) = %q, %v; want %q, %v", c.goos, got.where, ok, c.where, c.ok)
		}
	}
}

func TestWantedName(t *testing.T) {
	cases := []struct {
		p    cmdline.Program
		want string
	}{
		{cmdline.Program{Name: "blender"}, "blender"},
		{cmdline.Program{Name: "blender", Param: "blender"}, "blender"},
		{cmdline.Program{Name: "blender", Param: "blender", Configured: "blender-4.2"}, "blender-4.2"},
		{cmdline.Program{Name: "blender", Param: `C:\Blender\blender.exe`, Configured: "b"}, `C:\Blender\blender.exe`},
		{cmdline.Program{Name: "blender", Configured: "/opt/blender/blender"}, "/opt/blender/blender"},
	}
	for _, c := range cases {
		if got := wantedName(c.p); got != c.want {
			t.Errorf("wantedName(%+v) = %s, want %s", c.p, got, c.want)
		}
	}
}

func TestProgramAt(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "Blender")
	if err := os.WriteFile(exe, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := programAt(exe); err != nil || got != exe {
		t.Errorf("programAt(a file) = %s, %v", got, err)
	}
	if _, err := programAt(dir); err == nil || !strings.Contains(err.Error(), "is a folder") {
		t.Errorf("programAt(a folder): %v", err)
	}
	if _, err := programAt(filepath.Join(dir, "nope")); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("programAt(nothing): %v", err)
	}
}

func TestBlenderBeside(t *testing.T) {
	cases := []struct{ exe, want string }{
		{`C:\Program Files\Blender Foundation\Blender 4.2\blender-launcher.exe`, `C:\Program Files\Blender Foundation\Blender 4.2\blender.exe`},
		{`C:\Program Files\Blender Foundation\Blender 4.2\Blender-Launcher.EXE`, `C:\Program Files\Blender Foundation\Blender 4.2\blender.exe`},
		{`\\server\share\apps\blender\blender-launcher.exe`, `\\server\share\apps\blender\blender.exe`},
		{`D:\Blender\blender.exe`, `D:\Blender\blender.exe`},
		{`D:\Other\viewer.exe`, `D:\Other\viewer.exe`},
	}
	for _, c := range cases {
		if got := blenderBeside(ospath.Windows, c.exe); got != c.want {
			t.Errorf("blenderBeside(%s) = %s, want %s", c.exe, got, c.want)
		}
	}
}

// TestFindBlenderNoFallback: where the system has no Blender of its own
// (Linux), or the name has a folder, the error is p.Find's, and nothing
// else is tried.
func TestFindBlenderNoFallback(t *testing.T) {
	if _, ok := elsewhereFor(runtime.GOOS); ok {
		t.Skipf("%s has a Blender of its own to fall back to", runtime.GOOS)
	}
	t.Setenv("PATH", t.TempDir())
	logged := 0
	logf := func(string, ...any) { logged++ }
	for _, p := range []cmdline.Program{
		{Name: "blender", Plugin: "blender", Param: "blender"},
		{Name: "blender", Plugin: "blender", Param: "/nowhere/blender"},
	} {
		_, err := findBlender(p, logf)
		_, want := p.Find()
		if err == nil || err.Error() != want.Error() {
			t.Errorf("findBlender(%+v) = %v, want %v", p, err, want)
		}
	}
	if logged != 0 {
		t.Errorf("logged %d lines", logged)
	}
}
