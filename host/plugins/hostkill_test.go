package plugins_test

import (
	"errors"
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

// TestSIGINTAbortsPluginsRun: Ctrl+C on `cajon plugins run` aborts the
// command with the full tree kill and exits non-zero.
func TestSIGINTAbortsPluginsRun(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			pidDir := t.TempDir()
			script, _ := filepath.Abs("testdata/nasty.sh")
			params := `{"script": "sh ` + script + ` ` + pidDir + `"}`
			host := exec.Command(filepath.Join(binDir, "cajon"), "plugins", "run", "test-tree", "--grace", "300ms", "--params", params)
			host.Env = append(os.Environ(), "CAJON_STATE_DIR="+t.TempDir())
			var out strings.Builder
			host.Stdout, host.Stderr = &out, &out
			if err := host.Start(); err != nil {
				t.Fatal(err)
			}
			pids := waitForPids(t, pidDir, "root", "ignore", "setsid", "daemon", "setsid-daemon")
			if err := host.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			err := host.Wait()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 130 {
				t.Fatalf("exit %v, want status 130; output:\n%s", err, out.String())
			}
			if !strings.Contains(out.String(), `command "test-tree" aborted`) {
				t.Errorf("output does not say the command was aborted:\n%s", out.String())
			}
			assertAllGone(t, pids)
		})
	}
}
