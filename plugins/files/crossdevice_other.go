//go:build !windows

package main

import (
	"errors"
	"syscall"
)

// crossDevice reports whether a rename failed because source and
// destination are on different file systems.
func crossDevice(err error) bool { return errors.Is(err, syscall.EXDEV) }
