package managertest

import (
	"context"
	"fmt"
)

// TakeDown takes the Manager down with no request in flight, as tests of an
// outage need: a request that the Manager handled while going down would
// have its answer cut off, and the worker would rightly send it again
// (delivery is at least once). First every new request is refused with 503,
// unhandled; once no request is being handled, the listener and every
// connection close (Down), until ClearFaults. A request counts as in flight
// from before its fault is chosen, so one that missed the 503 is waited for.
func (m *Manager) TakeDown(ctx context.Context) error {
	if err := m.SetFault(Fault{Status: 503}); err != nil {
		return err
	}
	idle := func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.inFlight == 0
	}
	if err := m.WaitFor(ctx, idle); err != nil {
		return fmt.Errorf("managertest: TakeDown: requests still in flight: %w", err)
	}
	return m.SetFault(Fault{Down: true})
}

// inFlightDelta counts a request in or out.
func (m *Manager) inFlightDelta(d int) {
	m.mu.Lock()
	m.inFlight += d
	m.notify()
	m.mu.Unlock()
}
