package plugins_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/host/plugins"
	"github.com/cajonfarm/cajon/host/rundir"
)

// shortDir is a folder with a short path, removed when the test ends:
// t.TempDir's names are long for a socket path.
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "p")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// TestPluginSocketsLiveInTheStateDir: with a state dir, a plugin's socket
// and private folder are in the state dir's run folder, not in TMPDIR, and
// go when the plugin stops; a TMPDIR too long for a socket path does not
// matter then.
func TestPluginSocketsLiveInTheStateDir(t *testing.T) {
	state := shortDir(t)
	tmp := filepath.Join(t.TempDir(), strings.Repeat("t", 100)) // longer than any socket path
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", tmp)
	reg := open(t, []string{filepath.Join(binDir, "plugins")}, func(o *plugins.Options) { o.StateDir = state })
	if notes := reg.Notes(); len(notes) > 0 {
		t.Fatalf("notes: %v", notes)
	}
	// Running: its folder, with its socket in it.
	if res := reg.Run(context.Background(), req("echo", map[string]any{"message": "x"}), nil); res.Status != plugins.Completed {
		t.Fatal(res)
	}
	socks, _ := filepath.Glob(filepath.Join(state, rundir.Sub, "*", "plugin*"))
	if len(socks) == 0 {
		t.Errorf("no plugin socket in %s", filepath.Join(state, rundir.Sub))
	}
	reg.Close()
	if left, _ := os.ReadDir(filepath.Join(state, rundir.Sub)); len(left) > 0 {
		t.Errorf("the run folder holds %v after Close", left)
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("TMPDIR holds %v", left)
	}
}

// TestALongStateDir: a state dir too long for the sockets puts the
// runtime folder in TMPDIR (the plugins work, and leave nothing there);
// with TMPDIR too long as well, Open fails naming the path, its length, the
// limit and the fix, instead of go-plugin's "not compiled for this
// architecture". Without a state dir, a TMPDIR too long leaves each plugin
// out with a note that says the same.
func TestALongStateDir(t *testing.T) {
	long := filepath.Join(shortDir(t), strings.Repeat("s", 90))
	t.Run("a short TMPDIR", func(t *testing.T) {
		tmp := shortDir(t)
		t.Setenv("TMPDIR", tmp)
		reg := open(t, []string{filepath.Join(binDir, "plugins")}, func(o *plugins.Options) { o.StateDir = long })
		if res := reg.Run(context.Background(), req("echo", map[string]any{"message": "x"}), nil); res.Status != plugins.Completed {
			t.Fatal(res)
		}
		if left, _ := filepath.Glob(filepath.Join(tmp, rundir.TempPrefix+"*")); len(left) != 1 {
			t.Errorf("TMPDIR holds %v, want the runtime folder", left)
		}
		reg.Close()
		if left, _ := os.ReadDir(tmp); len(left) > 0 {
			t.Errorf("TMPDIR holds %v after Close", left)
		}
	})
	tooLongTmp := filepath.Join(shortDir(t), strings.Repeat("t", 90))
	if err := os.Mkdir(tooLongTmp, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Run("TMPDIR too long as well", func(t *testing.T) {
		t.Setenv("TMPDIR", tooLongTmp)
		_, err := plugins.Open(context.Background(), plugins.Options{Dirs: []string{filepath.Join(binDir, "plugins")}, StateDir: long})
		if err == nil {
			t.Fatal("Open worked")
		}
		path := filepath.Join(long, rundir.Sub)
		for _, want := range []string{path, " bytes, longer than the ", "set a shorter state_dir (CAJON_STATE_DIR) or TMPDIR"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("the error does not say %q: %v", want, err)
			}
		}
	})
	t.Run("no state dir, TMPDIR too long", func(t *testing.T) {
		t.Setenv("TMPDIR", tooLongTmp)
		reg := open(t, []string{filepath.Join(binDir, "plugins")})
		notes := strings.Join(reg.Notes(), "\n")
		for _, want := range []string{"its socket path " + tooLongTmp, "bytes, longer than the 107 a Unix socket path may have", "set a shorter TMPDIR"} {
			if !strings.Contains(notes, want) {
				t.Errorf("the notes do not say %q:\n%s", want, notes)
			}
		}
		if strings.Contains(notes, "architecture") {
			t.Errorf("the notes blame the architecture:\n%s", notes)
		}
	})
}
