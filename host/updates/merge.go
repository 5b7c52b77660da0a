package updates

import "strings"

// DefaultMergeMaxLogBytes caps the log of one merged request.
const DefaultMergeMaxLogBytes = 1 << 20

// merger folds consecutive queued updates of one task into one request that
// leaves the Manager in the same state as sending them one by one: logs
// concatenated as the Manager appends them, the latest non-empty activity, the
// highest steps_completed. A status change ends the merge, so statuses are
// never reordered, combined or dropped.
type merger struct {
	maxLog int
	n      int
	first  Update
	log    strings.Builder
	u      Update
	full   bool // a status was taken in: nothing may follow it in this request
}

// add takes u into the request and reports whether it did. The first update
// is always taken; a later one only when it is of the same task, no status
// came before it, and its log fits under the cap.
func (m *merger) add(u Update) bool {
	if m.n == 0 {
		m.first, m.u, m.n = u, u, 1
		m.full = u.Status != ""
		return true
	}
	if m.full || u.TaskID != m.u.TaskID {
		return false
	}
	if u.Log != "" && m.logLen() > 0 && m.logLen()+1+len(u.Log) > m.maxLog {
		return false
	}
	if m.n == 1 {
		m.log.WriteString(m.first.Log)
	}
	if u.Log != "" {
		// The Manager adds a newline to an appended log that lacks one.
		if m.log.Len() > 0 && !strings.HasSuffix(m.log.String(), "\n") {
			m.log.WriteByte('\n')
		}
		m.log.WriteString(u.Log)
	}
	if u.Activity != "" {
		m.u.Activity = u.Activity
	}
	if u.StepsCompleted != nil && (m.u.StepsCompleted == nil || *u.StepsCompleted > *m.u.StepsCompleted) {
		steps := *u.StepsCompleted
		m.u.StepsCompleted = &steps
	}
	if u.Status != "" {
		m.u.Status = u.Status
		m.full = true
	}
	m.n++
	return true
}

func (m *merger) logLen() int {
	if m.n == 1 {
		return len(m.first.Log)
	}
	return m.log.Len()
}

// update returns the request to send.
func (m *merger) update() Update {
	u := m.u
	if m.n > 1 {
		u.Log = m.log.String()
	}
	return u
}
