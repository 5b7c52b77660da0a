// Package backoff is the worker's one growing wait between attempts: at the
// Manager (sign-on, fetch, updates, previews), on its event stream and in the
// search for it on the network. Each wait is moved at random so that the
// workers of a farm that lost the Manager together do not come back in step.
package backoff

import (
	"math/rand/v2"
	"time"
)

// MaxRetryAfter bounds how long a server's Retry-After can hold an attempt
// back: a Manager or proxy that asks for a day must not park the worker.
const MaxRetryAfter = 10 * time.Minute

// Backoff is a wait that starts at Min and doubles after each failure up to
// Max. The zero value of its state is "no failure yet"; set Min, Max and
// Jitter, and change Max between waits when the cap depends on the moment.
type Backoff struct {
	Min, Max time.Duration
	// Jitter moves each wait at random by up to ±Jitter of itself
	// (0.2 means ±20%); 0 waits exactly the step.
	Jitter float64

	step     time.Duration
	failures int
}

// Next counts a failure and returns the wait before the next attempt.
func (b *Backoff) Next() time.Duration {
	b.failures++
	if b.step == 0 {
		b.step = b.Min
	} else {
		b.step = min(2*b.step, b.Max)
	}
	b.step = max(b.step, b.Min)
	return Jitter(b.step, b.Jitter)
}

// NextAtLeast is Next, but no shorter than floor (a Retry-After), which is
// itself capped at MaxRetryAfter.
func (b *Backoff) NextAtLeast(floor time.Duration) time.Duration {
	return max(b.Next(), min(floor, MaxRetryAfter))
}

// SetMax changes the cap; a step above it comes down to it at once (the
// wait in progress is the caller's to cut short).
func (b *Backoff) SetMax(d time.Duration) {
	b.Max = d
	b.step = min(b.step, d)
}

// Failures is the number of failures since the last Reset.
func (b *Backoff) Failures() int { return b.failures }

// Reset starts again from Min after a success.
func (b *Backoff) Reset() { b.step, b.failures = 0, 0 }

// Jitter moves d at random by up to ±frac of d.
func Jitter(d time.Duration, frac float64) time.Duration {
	spread := time.Duration(float64(d) * frac)
	if frac <= 0 || spread <= 0 {
		return d
	}
	return d - spread + rand.N(2*spread+1)
}
