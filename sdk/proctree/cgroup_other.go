//go:build unix && !linux

package proctree

import "os/exec"

// startInCgroup starts cmd; cgroups are Linux's, so dir is ignored.
func startInCgroup(cmd *exec.Cmd, _ string) (joinErr error, tainted bool, startErr error) {
	return nil, false, cmd.Start()
}
