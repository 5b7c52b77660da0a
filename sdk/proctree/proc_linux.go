package proctree

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// SetSubreaper makes the calling process a child subreaper
// (PR_SET_CHILD_SUBREAPER): orphans among its descendants, such as
// double-forked daemons, are reparented to it instead of init, so sweeps can
// still find them. It applies to the whole process, from any thread.
func SetSubreaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("become child subreaper (prctl PR_SET_CHILD_SUBREAPER): %w", err)
	}
	return nil
}

func setDeathSignal(attr *syscall.SysProcAttr) {
	if attr.Pdeathsig == 0 {
		attr.Pdeathsig = syscall.SIGKILL
	}
}

// listProcs reads the whole process table from /proc.
func listProcs() ([]procInfo, error) {
	var procs []procInfo
	buf := make([]byte, 2048)
	err := eachPID(func(pid int) {
		if p, ok := readStat(pid, buf); ok {
			procs = append(procs, p)
		}
	})
	return procs, err
}

// eachPID calls fn with the pid of every process /proc lists.
func eachPID(fn func(pid int)) error {
	d, err := os.Open("/proc")
	if err != nil {
		return err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return err
	}
	for _, name := range names {
		if name == "" || name[0] < '0' || name[0] > '9' {
			continue
		}
		if pid, err := strconv.Atoi(name); err == nil {
			fn(pid)
		}
	}
	return nil
}

// readStat reads /proc/<pid>/stat. It reports false if the process is gone.
func readStat(pid int, buf []byte) (procInfo, bool) {
	fd, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/stat", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return procInfo{}, false
	}
	n, err := unix.Read(fd, buf)
	unix.Close(fd)
	if err != nil || n <= 0 {
		return procInfo{}, false
	}
	return parseStat(pid, buf[:n])
}

// parseStat parses a /proc/<pid>/stat line: "pid (comm) state ppid pgrp
// session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime
// cstime priority nice threads itrealvalue starttime ...". comm may contain
// spaces and parentheses, so fields are counted from the last ')'.
func parseStat(pid int, b []byte) (procInfo, bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return procInfo{}, false
	}
	fields := bytes.Fields(b[i+2:])
	if len(fields) < 20 {
		return procInfo{}, false
	}
	ppid, err1 := strconv.Atoi(string(fields[1]))
	pgid, err2 := strconv.Atoi(string(fields[2]))
	start, err3 := strconv.ParseUint(string(fields[19]), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return procInfo{}, false
	}
	state := fields[0][0]
	return procInfo{
		pid:    pid,
		ppid:   ppid,
		pgid:   pgid,
		start:  start,
		zombie: state == 'Z' || state == 'X',
	}, true
}

// procState returns one process's entry; false if it does not exist.
func procState(pid int) (procInfo, bool) {
	return readStat(pid, make([]byte, 2048))
}

// environHasTag reports whether the process was started with
// CAJON_RUN_ID=<tag> or, with family, with a sub-tag of tag (see SubTag).
// sure is false if the environment could not be read (the process is
// exiting, or runs as another user): ask again later.
func environHasTag(pid int, tag string, family bool) (has, sure bool) {
	env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil || len(env) == 0 {
		return false, false
	}
	prefix := TagEnv + "="
	for len(env) > 0 {
		var kv []byte
		if i := bytes.IndexByte(env, 0); i >= 0 {
			kv, env = env[:i], env[i+1:]
		} else {
			kv, env = env, nil
		}
		if value, ok := bytes.CutPrefix(kv, []byte(prefix)); ok {
			return tagMatches(string(value), tag, family), true
		}
	}
	return false, true
}

// signalProc signals the process k names and no other: through a pidfd,
// after checking that the pid still belongs to the process started at
// k.start, so a pid reused in the meantime is never hit.
func signalProc(k procKey, sig unix.Signal) error {
	fd, err := unix.PidfdOpen(k.pid, 0)
	if err != nil {
		if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) {
			return unix.Kill(k.pid, sig) // kernel older than 5.3, or seccomp
		}
		return err // ESRCH: gone
	}
	defer unix.Close(fd)
	if k.start != 0 {
		p, ok := readStat(k.pid, make([]byte, 2048))
		if !ok || p.start != k.start {
			return unix.ESRCH
		}
	}
	return unix.PidfdSendSignal(fd, sig, nil, 0)
}
