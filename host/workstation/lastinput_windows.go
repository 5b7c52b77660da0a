package workstation

import (
	"fmt"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// LastInput returns the time since the last keyboard or mouse input of the
// desktop session this process runs in (GetLastInputInfo). In a service
// (session 0) that is not the user's desktop: run it in the user's session.
func LastInput() (time.Duration, error) {
	user32 := windows.NewLazySystemDLL("user32.dll")
	kernel32 := windows.NewLazySystemDLL("kernel32.dll")
	var info struct {
		size uint32
		time uint32 // tick count of the last input
	}
	info.size = uint32(unsafe.Sizeof(info))
	if r, _, err := user32.NewProc("GetLastInputInfo").Call(uintptr(unsafe.Pointer(&info))); r == 0 {
		return 0, fmt.Errorf("GetLastInputInfo: %w", err)
	}
	now, _, _ := kernel32.NewProc("GetTickCount").Call()
	// Both are 32-bit millisecond ticks: the difference is right across the
	// 49.7-day wrap.
	return time.Duration(uint32(now)-info.time) * time.Millisecond, nil
}
