package rundir

import "os"

// hold: an open file cannot be deleted on Windows (Go opens files without
// FILE_SHARE_DELETE), so keeping f open is the lock.
func hold(*os.File) error { return nil }

// abandoned reports whether the lock file at path could be deleted, that
// is, no process holds it open: its process is gone.
func abandoned(path string) (bool, error) {
	return os.Remove(path) == nil, nil
}
