//go:build unix

package proctest

import (
	"errors"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// Alive reports whether pid is a live process; a zombie (exited, not yet
// reaped) counts as gone.
func Alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		// On Linux it went in between; elsewhere there is no /proc and
		// kill(0) is all there is to ask.
		return runtime.GOOS != "linux"
	}
	// The state follows the command name, which is in parentheses and may
	// hold any character.
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
