package main

import (
	"syscall"
	"testing"
)

// TestSignalName: an admin reads a stop by the name they know it by; Go on
// Windows delivers console events as SIGINT and SIGTERM.
func TestSignalName(t *testing.T) {
	tests := []struct {
		goos string
		sig  syscall.Signal
		want string
	}{
		{"linux", syscall.SIGINT, "SIGINT"},
		{"linux", syscall.SIGTERM, "SIGTERM"},
		{"darwin", syscall.SIGHUP, "SIGHUP"},
		{"windows", syscall.SIGINT, "Ctrl+C (or Ctrl+Break)"},
		{"windows", syscall.SIGTERM, "console closed, logoff or shutdown"},
	}
	for _, tt := range tests {
		if got := signalNameOn(tt.goos, tt.sig); got != tt.want {
			t.Errorf("signalNameOn(%s, %v) = %q, want %q", tt.goos, tt.sig, got, tt.want)
		}
	}
}
