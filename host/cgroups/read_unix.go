//go:build unix

package cgroups

import (
	"os"
	"runtime"
	"syscall"
)

// readAt reads an open cgroupfs file from its start into buf: the kernel
// makes its text afresh on each read from offset 0. One pread; os.File's
// ReadAt would make a second to find the end. nil for a nil file.
func readAt(f *os.File, buf []byte) []byte {
	if f == nil {
		return nil
	}
	n, err := syscall.Pread(int(f.Fd()), buf, 0)
	runtime.KeepAlive(f)
	if err != nil || n < 0 {
		return nil
	}
	return buf[:n]
}
