//go:build unix && !linux && !darwin

package proctree

import (
	"bufio"
	"bytes"
	"os/exec"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// This is the fallback for the other Unix systems (FreeBSD, OpenBSD, ...):
// the process table comes from ps(1), without start times.

// SetSubreaper does nothing here (FreeBSD's procctl(PROC_REAP_ACQUIRE) is not
// wired up); groups still find orphans by process group.
func SetSubreaper() error { return nil }

func setDeathSignal(*syscall.SysProcAttr) {}

func listProcs() ([]procInfo, error) {
	out, err := exec.Command("ps", "-A", "-o", "pid=", "-o", "ppid=", "-o", "pgid=", "-o", "stat=").Output()
	if err != nil {
		return nil, err
	}
	var procs []procInfo
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) < 4 {
			continue
		}
		pid, err1 := strconv.Atoi(string(f[0]))
		ppid, err2 := strconv.Atoi(string(f[1]))
		pgid, err3 := strconv.Atoi(string(f[2]))
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		procs = append(procs, procInfo{pid: pid, ppid: ppid, pgid: pgid, zombie: f[3][0] == 'Z'})
	}
	return procs, sc.Err()
}

func procState(pid int) (procInfo, bool) {
	procs, err := listProcs()
	if err != nil {
		return procInfo{}, false
	}
	for _, p := range procs {
		if p.pid == pid {
			return p, true
		}
	}
	return procInfo{}, false
}

func environHasTag(int, string, bool) (has, sure bool) { return false, true }

func signalProc(k procKey, sig unix.Signal) error { return unix.Kill(k.pid, sig) }
