package managertest

import "testing"

// Statuses lists the task statuses the task's accepted updates carried, in
// order.
func (ts TaskState) Statuses() []string {
	var out []string
	for _, u := range ts.Updates {
		if u.TaskStatus != nil {
			out = append(out, *u.TaskStatus)
		}
	}
	return out
}

// MustTask returns a snapshot of a task, failing tb for an unknown id.
func (m *Manager) MustTask(tb testing.TB, id string) TaskState {
	tb.Helper()
	ts, ok := m.Task(id)
	if !ok {
		tb.Fatalf("the Manager has no task %s", id)
	}
	return ts
}

// CheckProtocol fails tb when the worker sent anything the Manager rejected
// as malformed (see ProtocolErrors).
func (m *Manager) CheckProtocol(tb testing.TB) {
	tb.Helper()
	if errs := m.ProtocolErrors(); len(errs) > 0 {
		tb.Errorf("protocol errors: %q", errs)
	}
}

// RequestCount counts the requests of op received so far: of one task when
// taskID is not "".
func (m *Manager) RequestCount(op, taskID string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, r := range m.requests {
		if r.Op == op && (taskID == "" || r.TaskID == taskID) {
			n++
		}
	}
	return n
}
