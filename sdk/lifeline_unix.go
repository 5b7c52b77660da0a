//go:build unix

package sdk

import "syscall"

// closeOnExec keeps fd from the programs the plugin starts.
func closeOnExec(fd int) { syscall.CloseOnExec(fd) }
