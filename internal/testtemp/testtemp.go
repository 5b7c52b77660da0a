// Package testtemp gives tests a temporary folder that is removed with
// os.Remove, file by file, deepest first. t.TempDir's os.RemoveAll deletes
// through NtSetInformationFile(FileDispositionInformationEx), which wine 8
// answers with an error Go does not fall back from ("Invalid function"), so
// under wine every test with a subfolder failed its cleanup; os.Remove uses
// DeleteFile and RemoveDirectory, which wine has.
package testtemp

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// Dir creates a temporary folder, resolved through links, that is removed
// when the test ends; a file that cannot be removed fails the test.
func Dir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "cajon-test-")
	if err != nil {
		t.Fatal(err)
	}
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	t.Cleanup(func() {
		if err := Remove(dir); err != nil {
			t.Errorf("removing the test folder: %v", err)
		}
	})
	return dir
}

// Remove removes dir and everything in it, deepest first, with os.Remove.
func Remove(dir string) error {
	var paths []string
	err := filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		paths = append(paths, path)
		return nil
	})
	if err != nil {
		return err
	}
	// A path sorts after its folder: removing in reverse empties each
	// folder before it goes.
	sort.Sort(sort.Reverse(sort.StringSlice(paths)))
	for _, p := range paths {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	return nil
}
