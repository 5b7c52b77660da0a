//go:build !windows

package workstation

import (
	"errors"
	"time"
)

// LastInput is Windows' GetLastInputInfo; elsewhere X11 and logind tell.
func LastInput() (time.Duration, error) {
	return 0, errors.New("the session's last input is read on Windows only (GetLastInputInfo); on Linux watch X11 displays or logind")
}
