//go:build unix

package main

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/cajonfarm/cajon/internal/testwait"
)

// TestPlainCajonSearchesAndStopsCleanly runs plain `cajon`, as a unit
// written for flamenco-worker does, with no Manager configured: it must
// search the network, and SIGTERM while it searches is a clean stop (exit 0).
func TestPlainCajonSearchesAndStopsCleanly(t *testing.T) {
	dir := t.TempDir()
	environ := []string{"CAJON_STATE_DIR=" + dir, "HOME=" + dir, "XDG_CONFIG_HOME=" + dir,
		"CAJON_PLUGIN_DIRS=" + filepath.Join(binDir, "plugins")}
	cmd, out := startCajon(t, filepath.Join(binDir, "cajon"), environ)
	testwait.For(t, "cajon to search for a Manager", func() bool { return strings.Contains(out.String(), "searching the network") })
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("cajon stopped while searching: %v, want exit 0\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "stopped before a Manager was found") {
		t.Errorf("the log does not say the search was stopped:\n%s", out.String())
	}
}
