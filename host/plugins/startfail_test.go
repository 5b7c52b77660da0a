package plugins_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/host/plugins"
)

// installDying puts testdata/dies-at-start.sh in a plugin folder of its own
// as cajon-plugin-NAME and returns the folder.
func installDying(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	copyFile(t, filepath.Join("testdata", "dies-at-start.sh"), filepath.Join(dir, "cajon-plugin-"+name))
	return dir
}

// TestAPluginThatDiesAtStartShowsWhy: every start failure quotes the end of
// the plugin's stderr (issue 18), bounded, and says what went wrong with the
// handshake in words that fit a plugin that ran and exited.
func TestAPluginThatDiesAtStartShowsWhy(t *testing.T) {
	cases := []struct {
		name   string
		env    map[string]string // for testdata/dies-at-start.sh
		want   []string          // in the error
		absent []string          // not in it
	}{
		{name: "a few lines", env: map[string]string{"DIES_LINES": "3"},
			want: []string{"did not start: it exited, or closed its stdout, without writing go-plugin's handshake line",
				"the last lines of its stderr:\n    line 1 of 3\n    line 2 of 3\n    line 3 of 3"},
			absent: []string{"not compiled for this architecture"}},
		{name: "more lines than the tail holds", env: map[string]string{"DIES_LINES": "50"},
			want: []string{"    line 31 of 50\n", "    line 50 of 50"}, absent: []string{"line 30 of 50"}},
		{name: "a line wider than the tail holds", env: map[string]string{"DIES_LINES": "1", "DIES_WIDE": "100000"},
			want: []string{"line 1 of 1\n    xxxx", "x [...]"}},
		{name: "a line on stdout that is no handshake", env: map[string]string{"DIES_LINES": "1", "DIES_STDOUT": "hello there"},
			want: []string{`its first line on stdout is "hello there", not go-plugin's handshake line`, "    line 1 of 1"}},
		{name: "nothing on stderr", want: []string{"without writing go-plugin's handshake line"}, absent: []string{"the last lines of its stderr"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"DIES_LINES", "DIES_WIDE", "DIES_STDOUT", "DIES_REAL"} {
				t.Setenv(k, tc.env[k])
			}
			bin := filepath.Join(installDying(t, "dies"), "cajon-plugin-dies")
			l, err := plugins.Launch(context.Background(), bin, nil, "")
			if err == nil {
				l.Kill(context.Background())
				t.Fatal("the plugin started")
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("the error does not say %q", w)
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(msg, a) {
					t.Errorf("the error says %q", a)
				}
			}
			if max := 8 << 10; len(msg) > max {
				t.Errorf("the error has %d bytes, more than %d", len(msg), max)
			}
			if t.Failed() {
				t.Logf("error: %s", msg)
			}
		})
	}
}

// TestStartFailuresQuoteStderrEverywhere: the listing's notes (a plugin left
// out at Open) and a command's failure (a plugin that no longer starts when
// a command needs it) quote the plugin's stderr too.
func TestStartFailuresQuoteStderrEverywhere(t *testing.T) {
	t.Setenv("DIES_LINES", "2")
	t.Setenv("DIES_WIDE", "")
	t.Setenv("DIES_STDOUT", "")
	t.Run("left out at Open", func(t *testing.T) {
		t.Setenv("DIES_REAL", "")
		reg := open(t, []string{installDying(t, "dies")})
		notes := strings.Join(reg.Notes(), "\n")
		if !strings.Contains(notes, "plugin dies") || !strings.Contains(notes, "    line 1 of 2\n    line 2 of 2") {
			t.Fatalf("notes: %s", notes)
		}
	})
	t.Run("a command's failure", func(t *testing.T) {
		// It describes itself as the real exec plugin first; the cache then
		// keeps it from starting until a command needs it, when it dies.
		dir := installDying(t, "exec")
		cache := filepath.Join(t.TempDir(), "described.json")
		withCache := func(o *plugins.Options) { o.DescribeCache = cache }
		t.Setenv("DIES_REAL", filepath.Join(binDir, "plugins", "cajon-plugin-exec"))
		open(t, []string{dir}, withCache).Close()
		t.Setenv("DIES_REAL", "")
		reg := open(t, []string{dir}, withCache)
		res := reg.Run(context.Background(), req("echo", map[string]any{"message": "hi"}), nil)
		if res.Status != plugins.Failed || !strings.Contains(res.Message, "did not start") || !strings.Contains(res.Message, "    line 2 of 2") {
			t.Fatalf("result %s: %s", res.Status, res.Message)
		}
	})
}
