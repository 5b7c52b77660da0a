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
	socks, _ := filepath.Glob(filepath.Join(state, rundir.Sub, "*", "p*", "plugin*"))
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

// TestSocketPathTooLong: a state dir whose socket paths would pass the
// limit leaves the plugin out with a note naming the path, its length, the
// limit and the fix, instead of go-plugin's "not compiled for this
// architecture".
func TestSocketPathTooLong(t *testing.T) {
	state := filepath.Join(shortDir(t), strings.Repeat("s", 90))
	reg := open(t, []string{filepath.Join(binDir, "plugins")}, func(o *plugins.Options) { o.StateDir = state })
	notes := strings.Join(reg.Notes(), "\n")
	for _, want := range []string{"its socket path " + filepath.Join(state, rundir.Sub), "bytes, longer than the 107 a Unix socket path may have", "set a shorter state_dir (CAJON_STATE_DIR)"} {
		if !strings.Contains(notes, want) {
			t.Errorf("the notes do not say %q:\n%s", want, notes)
		}
	}
	if strings.Contains(notes, "architecture") {
		t.Errorf("the notes blame the architecture:\n%s", notes)
	}
}
