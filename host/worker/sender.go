package worker

import (
	"context"
	"fmt"
	"time"

	"github.com/cajonfarm/cajon/host/flamenco"
	"github.com/cajonfarm/cajon/host/updates"
)

// sender delivers queued updates with the worker's current credentials, so
// updates queued before a re-registration are sent as the new worker (and
// dropped by the Manager's 409 when their task was not reassigned).
type sender struct{ w *Worker }

// SendTaskUpdate implements updates.Sender.
func (s sender) SendTaskUpdate(ctx context.Context, u updates.Update) error {
	return sendUpdate(ctx, s.w.client(), u)
}

// sendUpdate sends one update and sorts the answer for the queue: 409/404
// drop it as ErrTaskGone; 413 is ErrTooLarge and 400 (and the other 4xx
// that mean a bad request) ErrRejected, which the queue answers with a
// smaller update; anything else is retried (401, 403 and redirects too: the
// worker may register again, or the admin fix the proxy, meanwhile).
func sendUpdate(ctx context.Context, c *flamenco.Client, u updates.Update) error {
	err := c.UpdateTask(ctx, u.TaskID, flamenco.TaskUpdate{
		TaskStatus:     flamenco.TaskStatus(u.Status),
		Activity:       u.Activity,
		Log:            u.Log,
		StepsCompleted: u.StepsCompleted,
	})
	if err == nil {
		return nil
	}
	switch flamenco.KindOf(err) {
	case flamenco.KindConflict, flamenco.KindNotFound:
		return fmt.Errorf("%w: %w", updates.ErrTaskGone, err)
	case flamenco.KindTooLarge:
		return fmt.Errorf("%w: %w", updates.ErrTooLarge, err)
	case flamenco.KindBadRequest:
		return fmt.Errorf("%w: %w", updates.ErrRejected, err)
	}
	return retryAfterError{err}
}

// retryAfterError shows the queue the Manager's Retry-After.
type retryAfterError struct{ error }

func (e retryAfterError) Unwrap() error { return e.error }

// RetryAfter is how long the Manager asked to wait, or 0.
func (e retryAfterError) RetryAfter() time.Duration { return flamenco.RetryAfterOf(e.error) }

// clientSender delivers with a fixed client (cajon flush).
type clientSender struct{ c *flamenco.Client }

// SendTaskUpdate implements updates.Sender.
func (s clientSender) SendTaskUpdate(ctx context.Context, u updates.Update) error {
	return sendUpdate(ctx, s.c, u)
}
