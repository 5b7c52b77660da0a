// Backoff between failed sends.

package updates

import (
	"context"
	"errors"
	"time"

	"github.com/cajonfarm/cajon/host/backoff"

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

func (q *Queue) newRetry() *retry {
	return &retry{wait: backoff.Backoff{Min: q.minBackoff, Max: q.maxBackoff, Jitter: retryJitter}, log: q.log}
}

// retryJitter moves each wait by up to ±20%, as the worker's other retries.
const retryJitter = 0.2

// retry is the wait between failed sends, and what is logged about them.
type retry struct {
	wait backoff.Backoff
	log  hclog.Logger
}

// retryAfterError is an error that knows how long the server asked to wait.
type retryAfterError interface{ RetryAfter() time.Duration }

// after counts the failed send err and returns the wait before the next: the
// backoff's, or the server's Retry-After when that is longer.
func (r *retry) after(err error) time.Duration {
	var floor time.Duration
	var ra retryAfterError
	if errors.As(err, &ra) {
		floor = ra.RetryAfter()
	}
	d := r.wait.NextAtLeast(floor)
	// The first failure is worth a warning, and so is a failure that goes
	// on (a redirect or a proxy the admin must fix): at 1, 10, 100, ...
	// attempts. The rest of an outage is noise.
	if n := r.wait.Failures(); isPowerOf10(n) {
		r.log.Warn("sending a task update failed; retrying with backoff", "attempt", n, "retry_in", d, "error", err)
	} else {
		r.log.Debug("sending a task update failed again", "attempt", n, "retry_in", d, "error", err)
	}
	return d
}

func (r *retry) failures() int { return r.wait.Failures() }

func (r *retry) reset() { r.wait.Reset() }

func isPowerOf10(n int) bool {
	for n >= 10 && n%10 == 0 {
		n /= 10
	}
	return n == 1
}
