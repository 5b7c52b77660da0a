//go:build unix

package winetest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/internal/testwait"
	"github.com/cajonfarm/cajon/internal/wine"
)

// host is one test's cajon.exe setup: its own state folder and config, and a
// mark on every process it starts.
type host struct {
	dir    string // the test's folder (Linux path)
	state  string // state_dir, Windows path
	config string // cajon.toml, Windows path
	mark   string
}

// newHost makes a state folder and a config for cajon.exe. Files commands
// may act under the test's folder only (files.allowed_roots), given as the
// drive-letter path Windows programs see.
func newHost(t testing.TB) *host {
	t.Helper()
	dir := t.TempDir()
	h := &host{dir: dir, mark: fmt.Sprintf("%s-%d", t.Name(), time.Now().UnixNano())}
	h.state = wine.WinPath(filepath.Join(dir, "state"))
	cfg := fmt.Sprintf("kill_grace = \"2s\"\n\n[files]\nallowed_roots = [%q]\n", wine.WinPath(dir))
	if err := os.WriteFile(filepath.Join(dir, "cajon.toml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	h.config = wine.WinPath(filepath.Join(dir, "cajon.toml"))
	t.Cleanup(func() {
		// Whatever a failed test left running goes, so the next test
		// starts clean; a passing test has left nothing.
		procs, _ := env.Processes(h.mark)
		for _, p := range procs {
			_ = wine.KillLinux(p.PID)
		}
	})
	return h
}

// args are the flags every cajon.exe command of this host takes.
func (h *host) args(cmd ...string) []string {
	return append(cmd, "--config", h.config, "--state-dir", h.state)
}

// run runs a cajon.exe command to its end and returns its output; a failure
// fails the test.
func (h *host) run(t testing.TB, cmd ...string) string {
	t.Helper()
	c := env.Cajon(h.mark, h.args(cmd...)...)
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("cajon.exe %s: %v\n%s", strings.Join(cmd, " "), err, out)
	}
	return string(out)
}

// requireNoProcesses waits until no process of this host is left, and fails
// the test naming those that stay.
func (h *host) requireNoProcesses(t testing.TB) {
	t.Helper()
	var left []wine.Process
	if !testwait.Poll(testwait.Limit, func() bool {
		var err error
		left, err = env.Processes(h.mark)
		return err == nil && len(left) == 0
	}) {
		t.Fatalf("processes left behind: %v", left)
	}
}
