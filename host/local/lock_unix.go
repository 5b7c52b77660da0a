//go:build unix && !linux

package local

import (
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// Classic POSIX record locks (no open file description locks here). They
// belong to the process: the store keeps its descriptor open until it is
// closed, after the database.

func tryLock(f *os.File) (bool, error) {
	err := fcntlLock(f, unix.F_SETLK, unix.F_WRLCK)
	if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
		return false, nil
	}
	return err == nil, err
}

func unlock(f *os.File) error { return fcntlLock(f, unix.F_SETLK, unix.F_UNLCK) }

func lockHeld(f *os.File) (bool, error) {
	lk := lockRange(unix.F_WRLCK)
	if err := unix.FcntlFlock(f.Fd(), unix.F_GETLK, &lk); err != nil {
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
