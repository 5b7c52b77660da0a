package main

import (
	"errors"
	"syscall"
)

// errorNotSameDevice is Windows' ERROR_NOT_SAME_DEVICE: MoveFileEx cannot
// move a folder to another volume.
const errorNotSameDevice = syscall.Errno(17)

// crossDevice reports whether a rename failed because source and
// destination are on different volumes.
func crossDevice(err error) bool { return errors.Is(err, errorNotSameDevice) }
