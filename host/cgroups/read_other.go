//go:build !unix

package cgroups

import "os"

// readAt reads an open file from its start into buf; nil for a nil file.
// (Open refuses all but Linux, so no Run uses this.)
func readAt(f *os.File, buf []byte) []byte {
	if f == nil {
		return nil
	}
	n, _ := f.ReadAt(buf, 0)
	return buf[:n]
}
