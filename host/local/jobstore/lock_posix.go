//go:build unix && !linux

package jobstore

import "golang.org/x/sys/unix"

// Classic POSIX record locks (no open file description locks here). They
// belong to the process: the store keeps its descriptor open until it is
// closed, after the database.
const (
	setLock = unix.F_SETLK
	getLock = unix.F_GETLK
)
