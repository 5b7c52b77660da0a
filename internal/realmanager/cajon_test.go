//go:build unix

package realmanager

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/internal/proctest"
	"github.com/cajonfarm/cajon/internal/testbin"
	"github.com/cajonfarm/cajon/internal/wine"
)

// binDir holds bin/cajon and the shipped plugins, built once in TestMain;
// wineEnv the Windows build under wine (wine_test.go), when the Windows lane
// is on.
var (
	binDir  string
	wineEnv *wine.Env
)

func TestMain(m *testing.M) {
	e, cleanup, err := wine.Setup("exec")
	if err != nil {
		fmt.Fprintf(os.Stderr, "the Windows lane cannot start: %v\n", err)
		os.Exit(1)
	}
	wineEnv = e
	code := testbin.Main(m, &binDir, "exec", "blender", "ffmpeg", "files")
	cleanup()
	os.Exit(code)
}

// cajon is one `cajon run` process working for a real Manager.
type cajon struct {
	tb       testing.TB
	Name     string
	StateDir string
	cmd      *exec.Cmd
	out      *proctest.Output
	exited   chan struct{}
	code     int
}

// cajonOptions are what a test may change of the worker it starts.
type cajonOptions struct {
	restartExitCode int
	env             []string
	args            []string // more flags of `cajon run`
}

// startCajon runs `cajon run` against m as worker name, with quick fetch
// back-off so that tests do not wait for the 20 s default.
func startCajon(tb testing.TB, m *manager, name string, opt cajonOptions) *cajon {
	tb.Helper()
	c := &cajon{tb: tb, Name: name, StateDir: tb.TempDir(), out: &proctest.Output{}, exited: make(chan struct{})}
	args := []string{"run", "--manager", m.URL, "--name", name, "--state-dir", c.StateDir, "--log-level", "debug"}
	if opt.restartExitCode != 0 {
		args = append(args, "--restart-exit-code", fmt.Sprint(opt.restartExitCode))
	}
	args = append(args, opt.args...)
	c.cmd = exec.Command(filepath.Join(binDir, "cajon"), args...)
	c.cmd.Dir = c.StateDir
	c.cmd.Env = append(os.Environ(),
		"CAJON_MANAGER_FETCH_BACKOFF_MAX=1s",
		"CAJON_MANAGER_ASLEEP_POLL_INTERVAL=1s",
		"CAJON_KILL_GRACE=2s",
		// No config of the machine's own (/etc/cajon, ~/.config) leaks in.
		"XDG_CONFIG_HOME="+c.StateDir,
		"HOME="+c.StateDir,
	)
	c.cmd.Env = append(c.cmd.Env, opt.env...)
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	if err := c.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() {
		err := c.cmd.Wait()
		c.code = 0
		if ee, ok := err.(*exec.ExitError); ok {
			c.code = ee.ExitCode()
		}
		close(c.exited)
	}()
	tb.Cleanup(func() {
		select {
		case <-c.exited:
		default:
			_ = c.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-c.exited:
			case <-time.After(30 * time.Second):
				_ = c.cmd.Process.Kill()
				<-c.exited
			}
		}
		if tb.Failed() {
			tb.Logf("cajon %s output:\n%s", name, tailString(c.out.String(), 12000))
		}
	})
	return c
}

// wait waits for the worker to exit and returns its exit status.
func (c *cajon) wait(limit time.Duration) int {
	c.tb.Helper()
	select {
	case <-c.exited:
		return c.code
	case <-time.After(limit):
		c.tb.Fatalf("cajon %s did not exit within %v", c.Name, limit)
		return -1
	}
}

// running reports whether the process has not exited yet.
func (c *cajon) running() bool {
	select {
	case <-c.exited:
		return false
	default:
		return true
	}
}

func tailString(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
