//go:build !linux

package proctree

import (
	"errors"
	"fmt"
)

// Sample is Linux-only for now: macOS cannot read another process's
// environment (the run's tag), and on Windows a command's Job Object
// would be the place to ask.
func (s *Sampler) Sample() (Usage, error) {
	return Usage{}, fmt.Errorf("measuring a command's processes: %w", errors.ErrUnsupported)
}
