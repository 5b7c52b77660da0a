package jobstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrRunnerActive is wrapped when another process already runs the queue.
var ErrRunnerActive = errors.New("another 'cajon local run' is working this queue")

// The runner lock is a lock on one byte of the database file itself, far past
// anything SQLite reads, writes or locks (its lock bytes sit at 1 GiB, and a
// database cannot grow near this offset). Every path to the file (a
// symlinked state directory, a bind mount) meets the same lock, and the OS
// drops it when the process dies, however it dies.
const lockOffset = 1 << 62

// pidPath is the file beside the database (through symlinks) that tells
// which process holds the runner lock: for messages only, the lock is what
// counts.
func (s *Store) pidPath() string {
	real, err := filepath.EvalSymlinks(s.path)
	if err != nil {
		real = s.path
	}
	return real + ".lock"
}

// LockRunner makes this process the store's only runner. The lock is held
// until release is called, the store is closed or the process ends (even by
// SIGKILL).
func (s *Store) LockRunner() (release func(), err error) {
	s.lockMu.Lock()
	defer s.lockMu.Unlock()
	if s.locked {
		return nil, fmt.Errorf("%w (pid %d, this process)", ErrRunnerActive, os.Getpid())
	}
	ok, err := tryLock(s.lockFile)
	if err != nil {
		return nil, fmt.Errorf("local job store: lock %s for the runner: %w", s.path, err)
	}
	if !ok {
		who := ""
		if pid := s.runnerPid(); pid > 0 {
			who = fmt.Sprintf(" (pid %d)", pid)
		}
		return nil, fmt.Errorf("%w%s: stop it first, or use it (jobs submitted now are picked up by it)", ErrRunnerActive, who)
	}
	s.locked = true
	pidFile := s.pidPath()
	_ = os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600)
	return func() {
		s.lockMu.Lock()
		defer s.lockMu.Unlock()
		if !s.locked {
			return
		}
		_ = os.WriteFile(pidFile, nil, 0o600)
		_ = unlock(s.lockFile)
		s.locked = false
	}, nil
}

// runnerActive reports whether a process holds the runner lock now, and its
// pid when known. Looking takes no lock, so a runner starting meanwhile is
// never turned away.
func (s *Store) runnerActive() (bool, int) {
	s.lockMu.Lock()
	mine := s.locked
	s.lockMu.Unlock()
	if mine {
		return true, os.Getpid()
	}
	held, err := lockHeld(s.lockFile)
	if err != nil || !held {
		return false, 0
	}
	return true, s.runnerPid()
}

func (s *Store) runnerPid() int {
	raw, err := os.ReadFile(s.pidPath())
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
	return pid
}
