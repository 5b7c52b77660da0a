package proctree

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// startInCgroup starts cmd in the cgroup directory dir ("" = where this
// process is), from the calling goroutine's locked OS thread. It returns the
// start's error, and apart from it why the started process is not in dir: a
// failure to join is not a failure to start, the host's watchdog still
// guards the command. tainted is true when the thread could not be moved
// back to the plugin's cgroup: it must then end with its goroutine (do not
// unlock it).
func startInCgroup(cmd *exec.Cmd, dir string) (joinErr error, tainted bool, startErr error) {
	if dir == "" {
		return nil, false, cmd.Start()
	}
	if err := isCgroupDir(dir); err != nil {
		return err, false, cmd.Start()
	}
	if _, err := os.Stat(filepath.Join(dir, "cgroup.controllers")); err == nil {
		// cgroup v2: the kernel starts the process in the cgroup, so not
		// even a fork of its first instant escapes.
		cloneErr := startCloned(cmd, dir)
		if cloneErr == nil {
			return nil, false, nil
		}
		if cmd.Process != nil || !cgroupCloneRefusal(cloneErr) {
			return nil, false, cloneErr
		}
		// Refused (a kernel before 5.7, a cgroup that is not a leaf, no
		// permission): start it plainly and move it at once.
		if err := cmd.Start(); err != nil {
			return nil, false, err
		}
		if err := joinByPid(cmd.Process.Pid, dir); err != nil {
			return fmt.Errorf("%w; then %w", cloneErr, err), false, nil
		}
		return nil, false, nil
	}
	return startFromThread(cmd, dir)
}

// startFromThread starts cmd in the cgroup v1 directory dir. Version 1 lets
// one thread change cgroups (its "tasks" file): this locked thread moves into
// dir, forks the process there, and moves back. The process then never runs
// outside dir; moving it after its start would leave what it forks in its
// first moments outside (a shell forks before exec returns to Go).
func startFromThread(cmd *exec.Cmd, dir string) (joinErr error, tainted bool, startErr error) {
	tid := []byte(strconv.Itoa(unix.Gettid()))
	home, homeErr := threadCgroupDir(dir)
	if homeErr != nil {
		// Without the way back the thread cannot go: move the process
		// after its start instead.
		if err := cmd.Start(); err != nil {
			return nil, false, err
		}
		return joinByPid(cmd.Process.Pid, dir), false, nil
	}
	if err := writeExisting(filepath.Join(dir, "tasks"), tid); err != nil {
		if err := cmd.Start(); err != nil {
			return nil, false, err
		}
		return joinByPid(cmd.Process.Pid, dir), false, nil
	}
	startErr = cmd.Start()
	if err := writeExisting(filepath.Join(home, "tasks"), tid); err != nil {
		tainted = true
	}
	return nil, tainted, startErr
}

// threadCgroupDir is the directory of this thread's cgroup in the v1
// hierarchy that holds dir: the ancestor of dir whose path ends with the
// thread's cgroup path, or the hierarchy's mount point for "/".
func threadCgroupDir(dir string) (string, error) {
	raw, err := os.ReadFile("/proc/thread-self/cgroup")
	if err != nil {
		return "", err
	}
	var own string
	for _, line := range strings.Split(string(raw), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && slices.Contains(strings.Split(parts[1], ","), "memory") {
			own = filepath.Clean(parts[2])
		}
	}
	if own == "" {
		return "", errors.New("this thread is in no cgroup v1 memory controller")
	}
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return "", err
	}
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		if own != "/" && strings.HasSuffix(d, own) {
			return d, nil
		}
		var pst unix.Stat_t
		parent := filepath.Dir(d)
		if parent == d || unix.Stat(parent, &pst) != nil || pst.Dev != st.Dev {
			// d is the mount point: the hierarchy's root, or what this
			// process's namespace sees of it.
			return d, nil
		}
	}
}

// joinByPid moves process pid into the cgroup dir. Its children forked
// from now on are in it too; the process was started a moment ago, before
// it could have done much, let alone fork.
func joinByPid(pid int, dir string) error {
	if err := writeExisting(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid))); err != nil {
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

// isCgroupDir checks that dir is a directory of a cgroup file system, so a
// wrong path never has files written into some other folder.
func isCgroupDir(dir string) error {
	if !filepath.IsAbs(dir) {
		return fmt.Errorf("cgroup %q is not an absolute path", dir)
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		return fmt.Errorf("cgroup %s: %w", dir, err)
	}
	if fs.Type != unix.CGROUP_SUPER_MAGIC && fs.Type != unix.CGROUP2_SUPER_MAGIC {
		return fmt.Errorf("%s is not a cgroup (its file system is not cgroupfs)", dir)
	}
	return nil
}

// writeExisting writes data to a cgroup's control file, which exists: it
// is never created.
func writeExisting(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
