// Package rundir keeps a process's private runtime folder under the state
// dir: the plugins' sockets and the folders their processes must not leave
// in the system's temporary folder live there. Each cajon process has a
// folder of its own, locked while it lives; folders of processes that are
// gone (a SIGKILL, a power cut) are swept by the next one that opens.
package rundir

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Sub is the folder of the state dir that holds the processes' folders.
const Sub = "run"

// TempPrefix starts the names of processes' folders in the system's
// temporary folder, used when the state dir's path is too long.
const TempPrefix = "cajon-run-"

// lockName is the file each process's folder holds locked while it lives.
const lockName = "lock"

// idLen is the length of a folder's random name (hex).
const idLen = 6

// Dir is one process's private runtime folder.
type Dir struct {
	path string
	lock *os.File
}

// TooLongError means neither the state dir nor the system's temporary
// folder gives a runtime folder path of at most Max bytes.
type TooLongError struct {
	Path string // the path in the state dir
	Max  int
}

func (e *TooLongError) Error() string {
	return fmt.Sprintf("runtime folder %s is %d bytes, longer than the %d its sockets allow, and so is one in the temporary folder %s: set a shorter state_dir (CAJON_STATE_DIR) or TMPDIR",
		e.Path, len(e.Path), e.Max, os.TempDir())
}

// Open sweeps the folders of processes that are gone and makes this
// process's own, mode 0700, in stateDir's run folder. When that folder's
// path would be longer than maxLen bytes (0 = any length: sockets go in it,
// and their paths are short), it is made in the system's temporary folder
// instead, named TempPrefix..., swept the same way. Close removes it.
func Open(stateDir string, maxLen int) (*Dir, error) {
	root, prefix := filepath.Join(stateDir, Sub), ""
	if maxLen > 0 && len(root)+1+idLen > maxLen {
		inState := filepath.Join(root, strings.Repeat("x", idLen))
		root, prefix = os.TempDir(), TempPrefix
		if len(root)+1+len(prefix)+idLen > maxLen {
			return nil, &TooLongError{Path: inState, Max: maxLen}
		}
	} else if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("runtime folder: %w (check that state_dir is writable)", err)
	}
	Sweep(root, prefix)
	id := make([]byte, idLen/2)
	if _, err := rand.Read(id); err != nil {
		return nil, fmt.Errorf("runtime folder: %w", err)
	}
	path := filepath.Join(root, prefix+hex.EncodeToString(id))
	if err := os.Mkdir(path, 0o700); err != nil {
		return nil, fmt.Errorf("runtime folder: %w", err)
	}
	lock, err := lockFolder(path)
	if err != nil {
		RemoveTree(path)
		return nil, fmt.Errorf("runtime folder %s: %w", path, err)
	}
	return &Dir{path: path, lock: lock}, nil
}

// Path is the folder.
func (d *Dir) Path() string { return d.path }

// Close removes the folder and all in it.
func (d *Dir) Close() error {
	d.lock.Close()
	if err := RemoveTree(d.path); err != nil {
		return fmt.Errorf("removing the runtime folder: %w", err)
	}
	return nil
}

// Sweep removes the folders in root named prefix... whose process is gone:
// those whose lock is free (a folder being made, without its lock file yet,
// is left).
func Sweep(root, prefix string) []string {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil
	}
	var swept []string
	for _, e := range entries {
		dir := filepath.Join(root, e.Name())
		if !e.IsDir() || !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		stale, err := abandoned(filepath.Join(dir, lockName))
		if err != nil || !stale {
			continue
		}
		if RemoveTree(dir) == nil {
			swept = append(swept, dir)
		}
	}
	return swept
}

// lockFolder creates dir's lock file and holds it for the life of the
// process (the returned file).
func lockFolder(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_CREATE|os.O_RDWR|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	if err := hold(f); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// errNoLock means a folder has no lock file (yet).
var errNoLock = errors.New("no lock file")

func openLock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNoLock
	}
	return f, err
}
