//go:build unix

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/internal/testbin"
)

// shippedPlugins are the plugins `make install` installs.
func shippedPlugins() []string { return []string{"blender", "exec", "ffmpeg", "files"} }

// makeInstall runs `make install` at the module root with vars, building
// into a folder of the test's own (never the source tree's bin/).
func makeInstall(t *testing.T, vars ...string) string {
	t.Helper()
	root, err := testbin.Root()
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-C", root, "install", "BIN=" + t.TempDir()}, vars...)
	out, err := exec.Command("make", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestMakeInstallIntoAPrefix(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and installs every plugin")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make here")
	}
	prefix := filepath.Join(t.TempDir(), "opt", "cajon")
	makeInstall(t, "PREFIX="+prefix)

	pluginDir := filepath.Join(prefix, "libexec", "cajon", "plugins")
	for _, f := range []string{"bin/cajon", "share/cajon/cajon.toml", "share/cajon/cajon-worker.service"} {
		if _, err := os.Stat(filepath.Join(prefix, f)); err != nil {
			t.Errorf("not installed: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(prefix, "etc")); err == nil {
		t.Errorf("a prefix outside /usr and /usr/local got an etc/ (cajon reads /etc/cajon only)")
	}
	unit, err := os.ReadFile(filepath.Join(prefix, "share", "cajon", "cajon-worker.service"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(unit), "ExecStart="+prefix+"/bin/cajon run") {
		t.Errorf("the installed unit does not start %s/bin/cajon:\n%s", prefix, unit)
	}
	if analyze, err := exec.LookPath("systemd-analyze"); err == nil {
		if out, err := exec.Command(analyze, "verify", filepath.Join(prefix, "share", "cajon", "cajon-worker.service")).CombinedOutput(); err != nil {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
	}

	// Run from the prefix, and through a symbolic link elsewhere (as a
	// package's /usr/bin link would): the plugins come from libexec.
	link := filepath.Join(t.TempDir(), "cajon")
	if err := os.Symlink(filepath.Join(prefix, "bin", "cajon"), link); err != nil {
		t.Fatal(err)
	}
	for _, exe := range []string{filepath.Join(prefix, "bin", "cajon"), link} {
		home := t.TempDir()
		cmd := exec.Command(exe, "plugins")
		cmd.Dir = home // no ./cajon.toml
		cmd.Env = []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"), "PATH=" + os.Getenv("PATH"),
			"CAJON_STATE_DIR=" + filepath.Join(home, "state")}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s plugins: %v\n%s", exe, err, stderr.String())
		}
		for _, p := range shippedPlugins() {
			want := filepath.Join(pluginDir, "cajon-plugin-"+p)
			found := false
			for _, line := range strings.Split(stdout.String(), "\n") {
				if strings.HasPrefix(line, p+" ") && strings.HasSuffix(line, "  "+want) {
					found = true
				}
			}
			if !found {
				t.Errorf("%s plugins does not list %s from %s:\n%s", exe, p, want, stdout.String())
			}
		}
	}
}

func TestMakeInstallKeepsAnExistingConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and installs every plugin")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make here")
	}
	// PREFIX=/usr/local installs /etc/cajon/cajon.toml, under DESTDIR.
	dest := t.TempDir()
	out := makeInstall(t, "PREFIX=/usr/local", "DESTDIR="+dest)
	config := filepath.Join(dest, "etc", "cajon", "cajon.toml")
	example, err := os.ReadFile(filepath.Join(dest, "usr", "local", "share", "cajon", "cajon.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(config); err != nil || !bytes.Equal(got, example) {
		t.Fatalf("%s is not the example (%v)\n%s", config, err, out)
	}
	mine := []byte("[manager]\nurl = \"http://flamenco:8080\"\n")
	if err := os.WriteFile(config, mine, 0o644); err != nil {
		t.Fatal(err)
	}
	out = makeInstall(t, "PREFIX=/usr/local", "DESTDIR="+dest)
	if got, _ := os.ReadFile(config); !bytes.Equal(got, mine) {
		t.Errorf("a second make install replaced the admin's %s:\n%s", config, out)
	}
	if !strings.Contains(out, "kept "+config) {
		t.Errorf("make install does not say it kept the config:\n%s", out)
	}
}
