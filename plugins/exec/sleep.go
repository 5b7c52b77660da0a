package main

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/cajonfarm/cajon/sdk"
)

// Sleep waits, as Flamenco's Echo Sleep Test job asks.
type Sleep struct {
	Seconds float64 `param:"duration_in_seconds,required" desc:"How long to wait, in seconds; fractions are honoured. At most 9223372036 (about 292 years)."`
}

// maxSleepSeconds is the longest sleep, in whole seconds: a time.Duration
// (int64 nanoseconds) holds about 292 years, and a longer one wraps around
// to a negative duration that would end at once.
const maxSleepSeconds = math.MaxInt64 / 1_000_000_000

// Run waits for the duration or until aborted.
func (s *Sleep) Run(ctx context.Context, run *sdk.Run) error {
	switch {
	case s.Seconds < 0:
		return fmt.Errorf("duration_in_seconds must not be negative, got %g", s.Seconds)
	case !(s.Seconds <= maxSleepSeconds): // also NaN
		return fmt.Errorf("duration_in_seconds is %g, more than the largest allowed value %d (about 292 years)", s.Seconds, maxSleepSeconds)
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
