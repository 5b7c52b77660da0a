// Backoff between failed sends.

package updates

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/hashicorp/go-hclog"
)

// sleep waits d, or until ctx ends or the queue closes.
func (q *Queue) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-q.done:
		return ErrClosed
	}
}

func (q *Queue) newBackoff() *backoff {
	return &backoff{min: q.minBackoff, max: q.maxBackoff, log: q.log}
}

// backoff is the delay between failed sends: doubling from min to max, each
// delay drawn between half and all of the current step so that workers that
// lost the Manager together do not come back in step.
type backoff struct {
	min, max time.Duration
	step     time.Duration
	failures int
	log      hclog.Logger
}

// retryAfterError is an error that knows how long the server asked to wait.
type retryAfterError interface{ RetryAfter() time.Duration }

func (b *backoff) after(err error) time.Duration {
	b.failures++
	if b.step == 0 {
		b.step = b.min
	} else {
		b.step = min(2*b.step, b.max)
	}
	d := b.step/2 + rand.N(b.step/2+1)
	var ra retryAfterError
	if errors.As(err, &ra) {
		d = max(d, min(ra.RetryAfter(), maxRetryAfter))
	}
	// The first failure is worth a warning, and so is a failure that goes
	// on (a redirect or a proxy the admin must fix): at 1, 10, 100, ...
	// attempts. The rest of an outage is noise.
	if isPowerOf10(b.failures) {
		b.log.Warn("sending a task update failed; retrying with backoff", "attempt", b.failures, "retry_in", d, "error", err)
	} else {
		b.log.Debug("sending a task update failed again", "attempt", b.failures, "retry_in", d, "error", err)
	}
	return d
}

func (b *backoff) reset() { b.step, b.failures = 0, 0 }

func isPowerOf10(n int) bool {
	for n >= 10 && n%10 == 0 {
		n /= 10
	}
	return n == 1
}
