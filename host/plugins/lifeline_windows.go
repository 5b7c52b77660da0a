package plugins

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"github.com/cajonfarm/cajon/sdk/wire"
	"golang.org/x/sys/windows"
)

// passLifeline gives the plugin r, the read end of its lifeline, as an
// inherited handle whose value is in its environment: Windows passes no file
// descriptors beyond the standard three (exec.Cmd.ExtraFiles). Only the read
// end is made inheritable, and Go lists the handles a child inherits
// (PROC_THREAD_ATTRIBUTE_HANDLE_LIST), so no other child holds it and the
// write end stays with the host alone: when the host closes it or dies, the
// plugin's read fails with ERROR_BROKEN_PIPE.
func passLifeline(cmd *exec.Cmd, r *os.File) error {
	h := windows.Handle(r.Fd())
	if err := windows.SetHandleInformation(h, windows.HANDLE_FLAG_INHERIT, windows.HANDLE_FLAG_INHERIT); err != nil {
		return fmt.Errorf("making the lifeline pipe inheritable: %w", err)
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.AdditionalInheritedHandles = append(cmd.SysProcAttr.AdditionalInheritedHandles, syscall.Handle(h))
	cmd.Env = append(cmd.Env, wire.EnvLifelineHandle+"="+strconv.FormatUint(uint64(h), 10))
	return nil
}
