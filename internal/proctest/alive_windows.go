package proctest

import "syscall"

// stillActive is the exit code GetExitCodeProcess gives a running process.
const stillActive = 259

// Alive reports whether pid is a live process.
func Alive(pid int) bool {
	const processQueryLimitedInformation = 0x1000
	h, err := syscall.OpenProcess(processQueryLimitedInformation, false, uint32(pid))
	if err != nil {
		return false
	}
	defer syscall.CloseHandle(h)
	var code uint32
	return syscall.GetExitCodeProcess(h, &code) == nil && code == stillActive
}
