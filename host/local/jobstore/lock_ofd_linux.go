package jobstore

import "golang.org/x/sys/unix"

// Open file description locks: unlike classic POSIX locks, closing another
// descriptor of the database (SQLite closes its own now and then) does not
// drop them, and two opens of the file in one process exclude each other.
const (
	setLock = unix.F_OFD_SETLK
	getLock = unix.F_OFD_GETLK
)
