package plugins_test

import (
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The crash sweep needs the host to be a subreaper; Open sees to it, so no
// command of cmd/cajon can forget it.
func TestOpenMakesTheHostASubreaper(t *testing.T) {
	open(t, []string{filepath.Join(binDir, "plugins")})
	var flag int32
	if err := unix.Prctl(unix.PR_GET_CHILD_SUBREAPER, uintptr(unsafe.Pointer(&flag)), 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	if flag != 1 {
		t.Fatal("after Open the process is not a child subreaper: orphans of a crashed plugin would escape the sweep")
	}
}
