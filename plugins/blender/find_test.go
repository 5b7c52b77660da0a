package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/internal/testtemp"
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

// TestFindBlenderElsewhere: the fallback's glue on any system, with the
// macOS place and with a stand-in for it: a bare name PATH does not know
// falls back and is logged; a path does not; what the place lacks is said.
func TestFindBlenderElsewhere(t *testing.T) {
	// testtemp, not t.TempDir: the wine lane runs this test too.
	dir := testtemp.Dir(t)
	t.Setenv("PATH", filepath.Join(dir, "empty"))
	standIn := filepath.Join(dir, "Blender")
	if err := os.WriteFile(standIn, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	there := blenderElsewhere{where: standIn, find: func() (string, error) { return programAt(standIn) }}
	mac, _ := elsewhereFor("darwin")
	bare := cmdline.Program{Name: "blender", Plugin: "blender", Param: "blender"}
	cases := []struct {
		name      string
		p         cmdline.Program
		elsewhere blenderElsewhere
		want      string // the Blender found; "" = an error saying err
		err       string
	}{
		{"bare name, found elsewhere", bare, there, standIn, ""},
		{"configured bare name", cmdline.Program{Name: "blender", Plugin: "blender", Configured: "blender-4.2"}, there, standIn, ""},
		{"a path is never replaced", cmdline.Program{Name: "blender", Plugin: "blender", Param: filepath.Join(dir, "nope", "blender")}, there, "", "does not exist"},
		{"macOS without Blender.app", bare, mac, "", `"blender" is not in PATH`},
		{"macOS without Blender.app says where it looked", bare, mac, "", "nor is there a Blender at /Applications/Blender.app/Contents/MacOS/Blender: /Applications/Blender.app/Contents/MacOS/Blender does not exist"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var logged []string
			got, err := findBlenderOr(c.p, c.elsewhere, true, func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) })
			if c.want == "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || len(logged) != 0 {
					t.Errorf("got %s, %v, logged %q; want an error saying %q", got, err, logged, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("got %s, %v; want %s", got, err, c.want)
			}
			if want := "running " + c.want + ", found at " + c.elsewhere.where; len(logged) != 1 || !strings.Contains(logged[0], want) {
				t.Errorf("logged %q, want a line saying %q", logged, want)
			}
		})
	}
}
