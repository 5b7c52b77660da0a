package workstation_test

import (
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/workstation"
)

// GetLastInputInfo answers in the test's own session (under wine too).
func TestLastInput(t *testing.T) {
	d, err := workstation.LastInput()
	if err != nil {
		t.Fatal(err)
	}
	if d < 0 || d > 50*24*time.Hour {
		t.Fatalf("idle time %s is outside the 32-bit tick range", d)
	}
	t.Logf("idle for %s", d)
}
