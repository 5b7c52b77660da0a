//go:build !linux

package plugins

import "fmt"

// adjustOOM: only Linux has an OOM-killer score to adjust.
func adjustOOM(_, value int) error {
	return fmt.Errorf("oom_score_adjust = %d has no effect on this system (Linux only)", value)
}
