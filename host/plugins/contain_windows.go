package plugins

import (
	"os/exec"
	"syscall"
)

// setProcessGroup keeps console Ctrl+C away from the plugin.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}
