package worker

import (
	"math/rand/v2"
	"time"
)

// backoff is a growing wait: min, then doubling up to max, each wait moved at
// random by ±jitter of itself so that workers that lost the Manager together
// do not come back in step.
type backoff struct {
	min, max time.Duration
	jitter   float64 // 0.1 means ±10%
	cur      time.Duration
	failures int
}

// next returns the next wait and grows the step.
func (b *backoff) next() time.Duration {
	b.failures++
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	return jitter(b.cur, b.jitter)
}

// nextAtLeast is next, but no shorter than floor (a Retry-After).
func (b *backoff) nextAtLeast(floor time.Duration) time.Duration {
	return max(b.next(), min(floor, 10*time.Minute))
}

func (b *backoff) reset() { b.cur, b.failures = 0, 0 }

// jitter moves d at random by up to ±frac of d.
func jitter(d time.Duration, frac float64) time.Duration {
	if frac <= 0 || d <= 0 {
		return d
	}
	spread := time.Duration(float64(d) * frac)
	if spread <= 0 {
		return d
	}
	return d - spread + rand.N(2*spread+1)
}
