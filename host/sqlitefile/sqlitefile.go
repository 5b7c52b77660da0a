// Package sqlitefile looks after the files of a SQLite database in Cajon's
// state directory: they hold task logs, so they are made private (folder
// 0700, files 0600), and when SQLite cannot open them its "unable to open
// database file" is turned into an error that names the file and the cause.
package sqlitefile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// Prepare makes the database's folder (0700) when it is missing, creates
// the database file (0600) when it is missing, and narrows the permissions
// of an existing database and its WAL files to 0600. SQLite creates the WAL
// files with the database file's permissions, so they are private too.
func Prepare(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create the state directory %s: %w", dir, explainDir(dir, err))
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return Explain(path, err)
	}
	f.Close()
	if runtime.GOOS == "windows" {
		return nil // permissions there are ACLs, inherited from the folder
	}
	for _, p := range append([]string{path}, withCompanions(path)...) {
		info, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return Explain(path, err)
		}
		if info.Mode().Perm()&0o077 != 0 {
			// Another user's file stays as it is: its owner decides.
			if err := os.Chmod(p, info.Mode().Perm()&0o700); err != nil && !errors.Is(err, fs.ErrPermission) {
				return fmt.Errorf("make %s private (chmod 0600): %w", p, err)
			}
		}
	}
	return nil
}

// withCompanions lists the files SQLite keeps beside a database in WAL mode.
func withCompanions(path string) []string {
	return []string{path + "-wal", path + "-shm"}
}

// Explain says why the database at path cannot be opened, from a look at the
// file and its folder, and wraps err with it; err is returned wrapped with
// the path alone when nothing is found wrong.
func Explain(path string, err error) error {
	if cause := diagnose(path); cause != "" {
		return fmt.Errorf("%s: %s (%w)", path, cause, err)
	}
	return fmt.Errorf("%s: %w", path, err)
}

// diagnose finds what keeps the database at path from being opened for
// writing, or "".
func diagnose(path string) string {
	dir := filepath.Dir(path)
	info, err := os.Stat(path)
	switch {
	case err == nil && info.IsDir():
		return "it is a folder, not a database file: move it away, and a new database is made"
	case err == nil && !info.Mode().IsRegular():
		return "it is not a regular file: move it away, and a new database is made"
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return "cannot look at it: " + err.Error()
	}
	if err == nil {
		if cause := notWritable(path, "it"); cause != "" {
			return cause
		}
	}
	if cause := dirCause(dir); cause != "" {
		return cause
	}
	for _, p := range withCompanions(path) {
		if cause := notWritable(p, p); cause != "" {
			return cause
		}
	}
	return ""
}

// notWritable says why the existing file p (called name) cannot be opened
// for writing, or "".
func notWritable(p, name string) string {
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	if err != nil {
		return fmt.Sprintf("%s cannot be written: %v (check the owner and permissions)", name, unwrapPath(err))
	}
	f.Close()
	return ""
}

// dirCause says why files cannot be made in dir, or "". SQLite makes the WAL
// files beside the database, so the folder must be writable.
func dirCause(dir string) string {
	info, err := os.Stat(dir)
	if err != nil {
		return fmt.Sprintf("its folder %s cannot be used: %v", dir, unwrapPath(err))
	}
	if !info.IsDir() {
		return fmt.Sprintf("%s is not a folder", dir)
	}
	probe, err := os.CreateTemp(dir, ".cajon-write-test-*")
	if err != nil {
		return fmt.Sprintf("its folder %s is not writable: %v (SQLite keeps its -wal and -shm files beside the database; check state_dir and the folder's permissions)", dir, unwrapPath(err))
	}
	probe.Close()
	os.Remove(probe.Name())
	return ""
}

func explainDir(dir string, err error) error {
	if cause := dirCause(filepath.Dir(dir)); cause != "" {
		return fmt.Errorf("%s (%w)", cause, err)
	}
	return err
}

// unwrapPath drops the path an *fs.PathError repeats.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
