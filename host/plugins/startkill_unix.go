//go:build unix

package plugins

import (
	"context"
	"os/exec"

	"github.com/cajonfarm/cajon/sdk/proctree"
	"golang.org/x/sys/unix"
)

// killStarted kills a plugin process that was started and is being given
// up (its start failed or was canceled) with its process group (it leads
// one: containPlugin) and its descendants: a child that inherited its
// stdout would otherwise keep go-plugin reading it, and its Kill waiting,
// for ever.
func killStarted(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	pid := cmd.Process.Pid
	_ = unix.Kill(-pid, unix.SIGKILL)
	ctx, cancel := context.WithTimeout(context.Background(), proctree.KillTimeout)
	defer cancel()
	_ = proctree.KillTree(ctx, pid)
	return nil
}
