// What the Manager refuses: smaller pieces after a 413, a note in place of a refused log.

package updates

import (
	"cmp"
	"errors"
	"fmt"

	"github.com/cajonfarm/cajon/sdk/phrase"

	"github.com/cajonfarm/cajon/sdk/wire"
)

// shrink halves the log of a request after the Manager refused refused
// bytes of it as too large, for every request from now on: a proxy's limit
// does not change while the worker runs.
func (q *Queue) shrink(refused int, err error) {
	q.sendLimit = max(refused/2, minLogPiece)
	q.log.Warn("the Manager, or a proxy in front of it, refused a task update as too large (HTTP 413): "+
		"sending logs in smaller pieces from now on; raise the proxy's body limit (nginx: client_max_body_size) "+
		"or lower manager.max_update_log_bytes",
		"refused_log_bytes", refused, "piece_bytes", q.sendLimit, "error", err)
}

// degrade makes what is left of b smaller after the Manager refused it for
// good: first its log gives way to a short note that says where the full log
// is kept, then everything but the status goes. It reports false when there
// is nothing left to leave out: b is lost, and settled says so.
func (q *Queue) degrade(b *batch, err error) bool {
	u := &b.u
	switch {
	case u.Log != "" && !b.noted:
		where := ""
		if q.fullLog != nil {
			where = q.fullLog(u.TaskID)
		}
		q.log.Error("the Manager refused the log of a task update: sending the rest of the update without it",
			"task", u.TaskID, "log_bytes_not_delivered", len(u.Log), "log_start", phrase.Cut(u.Log, 200),
			"full_log", cmp.Or(where, "not kept on this worker: that log is lost"), "error", err)
		u.Log = refusedNote(len(u.Log), err, where)
		b.noted = true
		return true
	case u.Status != "" && (u.Log != "" || u.Activity != "" || u.StepsCompleted != nil):
		q.log.Error("the Manager refused a task update: sending its status alone",
			"task", u.TaskID, "status", u.Status, "activity", u.Activity, "steps_completed", stepsText(u.StepsCompleted), "error", err)
		*u = Update{TaskID: u.TaskID, Status: u.Status}
		return true
	}
	return false
}

// refusedNote is the line sent to the Manager in place of n bytes of log it
// refused.
func refusedNote(n int, err error, where string) string {
	why := "rejected them as invalid"
	if errors.Is(err, ErrTooLarge) {
		why = "refused them as too large (HTTP 413)"
	}
	if where == "" {
		return fmt.Sprintf(wire.HostLinePrefix+"%d bytes of this task's log are missing here: the Manager %s, and the worker keeps no full log of this task", n, why)
	}
	return fmt.Sprintf(wire.HostLinePrefix+"%d bytes of this task's log are missing here: the Manager %s; the full log is on the worker, in %s", n, why, where)
}

func stepsText(steps *int) string {
	if steps == nil {
		return "unchanged"
	}
	return fmt.Sprint(*steps)
}
