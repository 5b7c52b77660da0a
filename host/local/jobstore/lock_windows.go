//go:build windows

package jobstore

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// Byte-range locks of the file handle, released when the handle closes or
// the process dies.

func tryLock(f *os.File) (bool, error) {
	ol := lockOverlapped()
	err := windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ol)
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) || errors.Is(err, windows.ERROR_IO_PENDING) {
		return false, nil
	}
	return err == nil, err
}

func unlock(f *os.File) error {
	ol := lockOverlapped()
	return windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, &ol)
}

// lockHeld takes the lock and gives it back at once: Windows cannot ask.
func lockHeld(f *os.File) (bool, error) {
	ok, err := tryLock(f)
	if err != nil || !ok {
		return !ok && err == nil, err
	}
	return false, unlock(f)
}

func lockOverlapped() windows.Overlapped {
	return windows.Overlapped{Offset: uint32(lockOffset & 0xffffffff), OffsetHigh: uint32(lockOffset >> 32)}
}
