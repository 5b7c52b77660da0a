//go:build !windows

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/cajonfarm/cajon/sdk/sdktest"
)

// TestMoveDirectoryAcrossFileSystems moves from the test's temporary folder
// to /dev/shm when they are different file systems (a tmpfs).
func TestMoveDirectoryAcrossFileSystems(t *testing.T) {
	other := "/dev/shm"
	var a, b syscall.Stat_t
	dir := t.TempDir()
	if syscall.Stat(dir, &a) != nil || syscall.Stat(other, &b) != nil || a.Dev == b.Dev {
		t.Skipf("%s and %s are not two file systems here; the copy path is tested by TestMoveByCopy", dir, other)
	}
	shm, err := os.MkdirTemp(other, "cajon-files-test-")
	if err != nil {
		t.Skipf("cannot write to %s: %v", other, err)
	}
	t.Cleanup(func() { os.RemoveAll(shm) })
	src := filepath.Join(dir, "src")
	treeSample(t, src)
	dest := filepath.Join(shm, "dest")
	res := run(t, "move-directory", map[string]any{"src": src, "dest": dest}, "")
	if res.Status != sdktest.Completed {
		t.Fatalf("%s: %s", res.Status, res.Message)
	}
	if !strings.Contains(strings.Join(res.Lines, "\n"), "different file systems") {
		t.Errorf("the move did not take the copy path:\n%s", strings.Join(res.Lines, "\n"))
	}
	checkTree(t, dest)
	if _, err := os.Stat(src); !os.IsNotExist(err) {
		t.Errorf("source still there: %v", err)
	}
}

// TestMakeDirectoryMode: folders are made 0775 less the umask, as the stock
// worker makes them (os.MkdirAll(path, 0o775)), parents included.
func TestMakeDirectoryMode(t *testing.T) {
	for _, tt := range []struct {
		umask int
		want  os.FileMode
	}{
		{0o002, 0o775},
		{0o022, 0o755},
		{0o077, 0o700},
	} {
		t.Run(fmt.Sprintf("umask %03o", tt.umask), func(t *testing.T) {
			old := syscall.Umask(tt.umask)
			defer syscall.Umask(old)
			dir := t.TempDir()
			path := filepath.Join(dir, "shot", "frames")
			if res := run(t, "make-directory", map[string]any{"path": path}, ""); res.Status != sdktest.Completed {
				t.Fatalf("%s: %s", res.Status, res.Message)
			}
			for _, p := range []string{filepath.Dir(path), path} {
				info, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if got := info.Mode().Perm(); got != tt.want {
					t.Errorf("%s has mode %v, want %v", p, got, tt.want)
				}
			}
		})
	}
}
