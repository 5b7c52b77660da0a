package local

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// errRunnerActive is wrapped when another process already runs the queue.
var errRunnerActive = errors.New("another 'cajon local run' is working this queue")

// lockPath is the runner lock file beside the database.
func (s *Store) lockPath() string { return s.path + ".lock" }

// lockRunner makes this process the store's only runner. The lock is held
// until release is called or the process ends (even by SIGKILL).
func (s *Store) lockRunner() (release func(), err error) {
	f, err := os.OpenFile(s.lockPath(), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("local job store: open the runner lock %s: %w", s.lockPath(), err)
	}
	ok, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("local job store: lock %s: %w", s.lockPath(), err)
	}
	if !ok {
		f.Close()
		who := ""
		if pid := s.runnerPid(); pid > 0 {
			who = fmt.Sprintf(" (pid %d)", pid)
		}
		return nil, fmt.Errorf("%w%s: stop it first, or use it (jobs submitted now are picked up by it)", errRunnerActive, who)
	}
	// The pid is for messages only; the lock is what counts.
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() {
		_ = f.Truncate(0)
		f.Close()
	}, nil
}

// runnerActive reports whether a process holds the runner lock now, and its
// pid when known.
func (s *Store) runnerActive() (bool, int) {
	f, err := os.OpenFile(s.lockPath(), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return false, 0
	}
	defer f.Close()
	ok, err := tryLock(f)
	if err != nil || ok {
		return false, 0 // closing f releases the lock we just took
	}
	return true, s.runnerPid()
}

func (s *Store) runnerPid() int {
	raw, err := os.ReadFile(s.lockPath())
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
	return pid
}
