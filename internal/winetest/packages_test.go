//go:build linux

package winetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/internal/testbin"
)

// windowsPackages are packages whose Windows code the lane runs as their own
// Go tests, built for Windows and run under wine: run picks the tests that
// need nothing wine lacks (no Blender, no FFmpeg), and each of mustPass has
// to pass, not skip, so the lane cannot go green by running nothing.
var windowsPackages = []struct {
	pkg, run string
	mustPass []string
}{
	// The Windows path syntax answers as path/filepath does on Windows.
	{"./plugins/internal/ospath", "", []string{"TestNativeIsFilepath", "TestWithin"}},
	// files.allowed_roots with Windows paths: case, slashes, \\?\, "..".
	{"./plugins/files", "TestAllowedRootsWindows", []string{"TestAllowedRootsWindows"}},
	// inputGlob with backslashes, forward slashes and both mixed.
	{"./plugins/ffmpeg", "Windows", []string{"TestExpandGlobWindows", "TestInputPatternWindows"}},
	// The Blender that opens .blend files, from an association in the
	// prefix's registry; Windows paths of outputs and previews.
	{"./plugins/blender", "FindBlender|BlenderBeside|Windows", []string{"TestFindBlenderByAssociation", "TestSavedLinesWindows"}},
	// The service in wine's service manager: install, start, stop (a
	// clean stop reaches the worker), an exit code, uninstall.
	{"./host/winservice", "", []string{"TestServiceLifecycle", "TestLogFileRotates"}},
	{"./internal/testtemp", "", []string{"TestRemove"}},
	// Workstation mode's Windows half: GetLastInputInfo in the session,
	// and the session reports that cajon idle-helper writes for the worker.
	{"./host/workstation", "TestLastInput|TestSession|TestReportIdle|TestWatcher", []string{"TestLastInput", "TestSessionReportRoundTrip"}},
}

func TestWindowsPackages(t *testing.T) {
	env.Require(t)
	root, err := testbin.Root()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range windowsPackages {
		t.Run(strings.TrimPrefix(p.pkg, "./"), func(t *testing.T) {
			h := newHost(t)
			exe := filepath.Join(h.dir, "package.test.exe")
			build := exec.Command("go", "test", "-c", "-o", exe, p.pkg)
			build.Dir = root
			build.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("building the Windows tests of %s: %v\n%s", p.pkg, err, out)
			}
			args := []string{"-test.v", "-test.count=1"}
			if p.run != "" {
				args = append(args, "-test.run", p.run)
			}
			out, err := env.Command(h.mark, exe, args...).CombinedOutput()
			if err != nil {
				t.Errorf("the Windows tests of %s failed under wine: %v\n%s", p.pkg, err, out)
			}
			for _, name := range p.mustPass {
				if !strings.Contains(string(out), "--- PASS: "+name+" ") {
					t.Errorf("%s did not pass under wine:\n%s", name, out)
				}
			}
			h.requireNoProcesses(t)
		})
	}
}
