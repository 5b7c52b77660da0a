package proctree

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// startInCgroup starts cmd in the cgroup directory dir ("" = where this
// process is). It returns the start's error, and apart from it why the
// started process is not in dir: a failure to join is not a failure to
// start, the host's watchdog still guards the command.
func startInCgroup(cmd *exec.Cmd, dir string) (joinErr, startErr error) {
	if dir == "" {
		return nil, cmd.Start()
	}
	if !filepath.IsAbs(dir) {
		return fmt.Errorf("cgroup %q is not an absolute path", dir), cmd.Start()
	}
	if _, err := os.Stat(filepath.Join(dir, "cgroup.controllers")); err == nil {
		// cgroup v2: the kernel starts the process in the cgroup, so not
		// even a fork of its first instant escapes.
		cloneErr := startCloned(cmd, dir)
		if cloneErr == nil {
			return nil, nil
		}
		if cmd.Process != nil || !cgroupCloneRefusal(cloneErr) {
			return nil, cloneErr
		}
		// Refused (a kernel before 5.7, a cgroup that is not a leaf, no
		// permission): start it plainly and move it at once.
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		if err := joinByPid(cmd.Process.Pid, dir); err != nil {
			return fmt.Errorf("%w; then %w", cloneErr, err), nil
		}
		return nil, nil
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return joinByPid(cmd.Process.Pid, dir), nil
}

// joinByPid moves process pid into the cgroup dir. Its children forked
// from now on are in it too; the process was started a moment ago, before
// it could have done much, let alone fork.
func joinByPid(pid int, dir string) error {
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
		return fmt.Errorf("moving pid %d into cgroup %s: %w", pid, dir, err)
	}
	return nil
}

// startCloned starts cmd with CLONE_INTO_CGROUP into dir. When the kernel
// refuses, cmd is left as it was before, ready to be started again.
func startCloned(cmd *exec.Cmd, dir string) error {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &cloneRefused{fmt.Errorf("opening cgroup %s: %w", dir, err)}
	}
	defer unix.Close(fd)
	// exec.Cmd cannot be started twice, even after a failed start: keep an
	// unstarted copy to start again without the cgroup.
	again := *cmd
	attr := *cmd.SysProcAttr
	again.SysProcAttr = &attr
	cmd.SysProcAttr.UseCgroupFD = true
	cmd.SysProcAttr.CgroupFD = fd
	err = cmd.Start()
	if err == nil {
		return nil
	}
	var errno unix.Errno
	if cmd.Process == nil && errors.As(err, &errno) && cloneErrno(errno) {
		*cmd = again
		return &cloneRefused{fmt.Errorf("starting into cgroup %s (CLONE_INTO_CGROUP): %w", dir, err)}
	}
	return err
}

// cloneErrno is true for the errors clone3 gives for CLONE_INTO_CGROUP
// itself, rather than the executable's (those come from execve).
func cloneErrno(e unix.Errno) bool {
	switch e {
	case unix.ENOSYS, unix.EINVAL, unix.EBUSY, unix.EOPNOTSUPP, unix.EPERM, unix.EBADF:
		return true
	}
	return false
}

// cloneRefused is a start into a cgroup that the kernel refused.
type cloneRefused struct{ err error }

func (e *cloneRefused) Error() string { return e.err.Error() }
func (e *cloneRefused) Unwrap() error { return e.err }

func cgroupCloneRefusal(err error) bool {
	var r *cloneRefused
	return errors.As(err, &r)
}
