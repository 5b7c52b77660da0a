package managertest

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// takeDownLimit bounds MustTakeDown: requests in flight for longer mean a
// hung test, not a slow one.
const takeDownLimit = 30 * time.Second

// TakeDown takes the Manager down with no request in flight, as tests of an
// outage need: a request that the Manager handled while going down would
// have its answer cut off, and the worker would rightly send it again
// (delivery is at least once). First every new request is refused with 503,
// unhandled; once no request is being handled, the listener and every
// connection close (Down), until ClearFaults. A request counts as in flight
// from its first byte (before its fault is chosen, so one that missed the
// 503 is waited for) until its answer is written whole.
func (m *Manager) TakeDown(ctx context.Context) error {
	if err := m.SetFault(Fault{Status: 503}); err != nil {
		return err
	}
	idle := func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return len(m.active) == 0
	}
	if err := m.WaitFor(ctx, idle); err != nil {
		return fmt.Errorf("managertest: TakeDown: requests still in flight: %w", err)
	}
	return m.SetFault(Fault{Down: true})
}

// MustTakeDown is TakeDown for a test: it fails tb when requests are still
// in flight after 30 s.
func (m *Manager) MustTakeDown(tb testing.TB) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), takeDownLimit)
	defer cancel()
	if err := m.TakeDown(ctx); err != nil {
		tb.Fatal(err)
	}
}
