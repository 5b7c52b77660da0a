// Package testtemp gives tests a temporary folder that is removed with
// os.Remove, file by file, deepest first. t.TempDir's os.RemoveAll deletes
// through NtSetInformationFile(FileDispositionInformationEx), which wine 8
// answers with an error Go does not fall back from ("Invalid function"), so
// under wine every test with a subfolder failed its cleanup; os.Remove uses
// DeleteFile and RemoveDirectory, which wine has.
package testtemp

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cajonfarm/cajon/host/rundir"
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

// Remove removes dir and everything in it, where wine's os.RemoveAll fails
// (rundir.RemoveTree).
func Remove(dir string) error { return rundir.RemoveTree(dir) }
