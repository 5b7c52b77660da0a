//go:build unix

package metrics

import "syscall"

// fileLimit is the process's soft limit of open file descriptors, 0 when
// unknown.
func fileLimit() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > 1<<30 {
		return 0
	}
	return int(rl.Cur)
}
