package plugins

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	pluginv1 "github.com/cajonfarm/cajon/sdk/proto/cajon/plugin/v1"
	"github.com/hashicorp/go-hclog"
)

// Launched is one plugin process started on its own, outside a Registry, for
// tools that exercise a single plugin binary (`cajon plugins check`). It is
// started as a Registry starts its plugins (same handshake, mTLS,
// environment, lifeline and containment), without the trust checks of the
// plugin folders and the sha256 allowlist.
type Launched struct {
	inst *instance
}

// Launch starts the plugin binary at path and asks it to describe itself.
// The error says which step failed: start, handshake, connection or
// Describe. Its socket and private folder go in runDir ("" = the system's
// temporary folder). A ctx that ends during the start kills the plugin with
// its process tree.
func Launch(ctx context.Context, path string, logger hclog.Logger, runDir string) (*Launched, error) {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	// No sha256 allowlist: the binary is one being checked, not one the
	// worker would run.
	inst, err := startInstance(ctx, NameOf(path), path, nil, logger, runDir, 0)
	if err != nil {
		return nil, err
	}
	return &Launched{inst: inst}, nil
}

// NameOf is the plugin name a binary's file name gives: cajon-plugin-NAME
// (NAME.exe on Windows). A file not named so gives its base name.
func NameOf(path string) string {
	name := strings.TrimPrefix(filepath.Base(path), BinaryPrefix)
	if runtime.GOOS == "windows" && strings.HasSuffix(strings.ToLower(name), ".exe") {
		name = name[:len(name)-4]
	}
	return name
}

// Client runs commands in the launched plugin (Run, Cancel), as the Registry does.
func (l *Launched) Client() *Client { return &Client{rpc: l.inst.rpc} }

// Description is what the plugin answered to Describe at start.
func (l *Launched) Description() *pluginv1.DescribeResponse { return l.inst.info }

// PID is the plugin's process id (0 if unknown).
func (l *Launched) PID() int { return l.inst.pid }

// Exited reports whether the plugin process has ended.
func (l *Launched) Exited() bool { return l.inst.exited() }

// CloseLifeline closes the host's end of the lifeline: the first step of a
// stop, after which the plugin must end its commands and exit by itself.
func (l *Launched) CloseLifeline() { l.inst.lifeline.Close() }

// WaitExit waits up to d for the plugin to exit and reports whether it did.
func (l *Launched) WaitExit(d time.Duration) bool { return l.inst.waitExit(d) }

// Stop stops the plugin as a Registry does: lifeline, wait, then kill.
func (l *Launched) Stop() { l.inst.stop() }

// Kill ends the plugin and its whole process tree at once.
func (l *Launched) Kill(ctx context.Context) { l.inst.kill(ctx) }

// AbortDeadline is how long the host waits, after asking a plugin to abort a
// command with the given grace, for the plugin's canceled result before it
// kills the plugin with its tree: longer than the plugin's own abort takes
// (grace, then proctree's kill, then its result; see stopMargin).
func AbortDeadline(grace time.Duration) time.Duration { return grace + stopMargin }

// String names the plugin process, for messages.
func (l *Launched) String() string {
	return fmt.Sprintf("plugin %s (pid %d)", l.inst.info.GetName(), l.inst.pid)
}
