package main

import (
	"context"
	"fmt"
	"time"

	"github.com/cajonfarm/cajon/sdk"
)

// Sleep waits, as Flamenco's Echo Sleep Test job asks.
type Sleep struct {
	Seconds float64 `param:"duration_in_seconds,required" desc:"How long to wait, in seconds; fractions are honoured."`
}

// Run waits for the duration or until aborted.
func (s *Sleep) Run(ctx context.Context, run *sdk.Run) error {
	if s.Seconds < 0 {
		return fmt.Errorf("duration_in_seconds must not be negative, got %g", s.Seconds)
	}
	d := time.Duration(s.Seconds * float64(time.Second))
	run.Activity(fmt.Sprintf("sleeping %s", d))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		run.Logf("slept %s", d)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
