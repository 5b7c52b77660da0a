package plugins

import (
	"os/exec"
	"syscall"
)

// containPlugin makes the plugin die with the host (SIGTERM, which the SDK
// catches to sweep its commands' trees) and keeps terminal signals (Ctrl+C)
// away from it: the host decides what an interrupt means.
func containPlugin(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
