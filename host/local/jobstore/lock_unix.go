//go:build unix

package jobstore

import (
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// The lock is an fcntl record lock; setLock and getLock say which kind
// (lock_ofd_linux.go, lock_posix.go).

func tryLock(f *os.File) (bool, error) {
	err := fcntlLock(f, setLock, unix.F_WRLCK)
	if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
		return false, nil
	}
	return err == nil, err
}

func unlock(f *os.File) error { return fcntlLock(f, setLock, unix.F_UNLCK) }

func lockHeld(f *os.File) (bool, error) {
	lk := lockRange(unix.F_WRLCK)
	if err := unix.FcntlFlock(f.Fd(), getLock, &lk); err != nil {
		return false, err
	}
	return lk.Type != unix.F_UNLCK, nil
}

func fcntlLock(f *os.File, cmd int, typ int16) error {
	lk := lockRange(typ)
	return unix.FcntlFlock(f.Fd(), cmd, &lk)
}

func lockRange(typ int16) unix.Flock_t {
	return unix.Flock_t{Type: typ, Whence: io.SeekStart, Start: lockOffset, Len: 1}
}
