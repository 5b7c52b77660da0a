package plugins_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSIGKILLOfTheHostLeavesNothing kills the real cajon binary with SIGKILL
// while a plugin runs an escaping process tree: the plugin (parent-death
// signal and lifeline) must sweep its tree and exit.
func TestSIGKILLOfTheHostLeavesNothing(t *testing.T) {
	pidDir := t.TempDir()
	script, _ := filepath.Abs("testdata/nasty.sh")
	params := `{"script": "sh ` + script + ` ` + pidDir + `"}`
	host := exec.Command(filepath.Join(binDir, "cajon"), "plugins", "run", "test-tree", "--params", params)
	host.Env = append(os.Environ(), "CAJON_STATE_DIR="+t.TempDir())
	var out strings.Builder
	host.Stdout, host.Stderr = &out, &out
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	pids := waitForPids(t, pidDir, "root", "ignore", "setsid", "daemon", "setsid-daemon")
	pids["plugin"] = parentPluginOf(t, pids["root"])
	if err := host.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = host.Wait()
	start := time.Now()
	assertAllGone(t, pids)
	t.Logf("plugin and tree gone %s after SIGKILL of the host", time.Since(start).Round(time.Millisecond))
}
