package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/windows"

	"github.com/cajonfarm/cajon/internal/testtemp"
	"github.com/cajonfarm/cajon/plugins/internal/cmdline"
)

// underWine reports whether the test runs under wine, whose ntdll says so.
func underWine() bool {
	return windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil
}

// regExe is the registry tool of Windows and of wine, by its full path:
// the test empties PATH.
func regExe() string {
	dir, err := windows.GetSystemDirectory()
	if err != nil {
		return "reg.exe"
	}
	return filepath.Join(dir, "reg.exe")
}

// reg runs reg.exe.
func reg(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(regExe(), args...).CombinedOutput(); err != nil {
		t.Fatalf("reg %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestFindBlenderByAssociation writes a .blend association into the
// registry, as Blender's installer does (to blender-launcher.exe), and
// finds the blender.exe beside it for a task whose exe is the bare name
// "blender" that PATH does not know. It changes the machine's file
// associations, so it runs under wine only (the wine lane's own prefix).
func TestFindBlenderByAssociation(t *testing.T) {
	if !underWine() {
		t.Skip("changes the .blend file association: runs under wine only (make test-windows)")
	}
	const progID = "CajonTest.blendfile"
	dir := testtemp.Dir(t)
	launcher := filepath.Join(dir, "Blender 4.2", launcherName)
	blender := filepath.Join(dir, "Blender 4.2", "blender.exe")
	for _, f := range []string{launcher, blender} {
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte("MZ"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", dir) // no blender.exe in PATH
	p := cmdline.Program{Name: "blender", Plugin: "blender", Param: "blender"}

	exec.Command(regExe(), "delete", `HKCR\.blend`, "/f").Run() // wine's prefix has none; make sure
	if _, err := findBlender(p, t.Logf); err == nil || !strings.Contains(err.Error(), "nor is there a Blender at the program Windows opens .blend files with") {
		t.Fatalf("without an association: %v", err)
	}

	t.Cleanup(func() {
		exec.Command(regExe(), "delete", `HKCR\.blend`, "/f").Run()
		exec.Command(regExe(), "delete", `HKCR\`+progID, "/f").Run()
	})
	reg(t, "add", `HKCR\.blend`, "/ve", "/d", progID, "/f")
	reg(t, "add", `HKCR\`+progID+`\shell\open\command`, "/ve", "/d", fmt.Sprintf(`"%s" "%%1"`, launcher), "/f")
	var logged []string
	got, err := findBlender(p, func(format string, args ...any) { logged = append(logged, fmt.Sprintf(format, args...)) })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.EqualFold(got, blender) {
		t.Errorf("found %s, want %s", got, blender)
	}
	if want := `"blender" is not in PATH; running ` + got + ", found at the program Windows opens .blend files with"; len(logged) != 1 || !strings.Contains(logged[0], want) {
		t.Errorf("logged %q, want a line saying %q", logged, want)
	}

	// The launcher alone (no blender.exe beside it) is no Blender to run.
	if err := os.Remove(blender); err != nil {
		t.Fatal(err)
	}
	if _, err := findBlender(p, t.Logf); err == nil || !strings.Contains(err.Error(), "blender.exe does not exist") {
		t.Errorf("a launcher without blender.exe: %v", err)
	}
}
