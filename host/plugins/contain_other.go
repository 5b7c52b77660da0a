//go:build !linux

package plugins

import "os/exec"

// containPlugin: without a parent-death signal, the lifeline pipe alone tells
// the plugin that the host is gone.
func containPlugin(cmd *exec.Cmd) {
	setProcessGroup(cmd)
}
