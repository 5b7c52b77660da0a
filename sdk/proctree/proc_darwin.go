package proctree

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// szomb is the p_stat value of a zombie (sys/proc.h).
const szomb = 5

// SetSubreaper does nothing on macOS, which has no subreapers: orphans go to
// launchd. Groups still find them by process group and by remembering members.
func SetSubreaper() error { return nil }

func setDeathSignal(*syscall.SysProcAttr) {}

// listProcs reads the whole process table with sysctl kern.proc.all.
func listProcs() ([]procInfo, error) {
	kps, err := unix.SysctlKinfoProcSlice("kern.proc.all")
	if err != nil {
		return nil, err
	}
	procs := make([]procInfo, 0, len(kps))
	for i := range kps {
		procs = append(procs, kinfoToProc(&kps[i]))
	}
	return procs, nil
}

func kinfoToProc(kp *unix.KinfoProc) procInfo {
	st := kp.Proc.P_starttime
	return procInfo{
		pid:    int(kp.Proc.P_pid),
		ppid:   int(kp.Eproc.Ppid),
		pgid:   int(kp.Eproc.Pgid),
		start:  uint64(st.Sec)*1_000_000 + uint64(st.Usec),
		zombie: kp.Proc.P_stat == szomb,
	}
}

// procState returns one process's entry; false if it does not exist.
func procState(pid int) (procInfo, bool) {
	kp, err := unix.SysctlKinfoProc("kern.proc.pid", pid)
	if err != nil || kp == nil || int(kp.Proc.P_pid) != pid {
		return procInfo{}, false
	}
	return kinfoToProc(kp), true
}

// environHasTag is always false on macOS: another process's environment is
// not readable cheaply; process group and descent cover the group.
func environHasTag(int, string, bool) (has, sure bool) { return false, true }

// signalProc signals pid after checking that it is still the process that
// started at k.start (macOS has no pidfd; the window left is tiny).
func signalProc(k procKey, sig unix.Signal) error {
	if k.start != 0 {
		if p, ok := procState(k.pid); !ok || p.start != k.start {
			return unix.ESRCH
		}
	}
	return unix.Kill(k.pid, sig)
}
