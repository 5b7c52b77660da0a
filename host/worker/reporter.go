package worker

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cajonfarm/cajon/sdk/phrase"

	"github.com/cajonfarm/cajon/host/flamenco"
	"github.com/cajonfarm/cajon/host/loglimit"
	"github.com/cajonfarm/cajon/host/logstore"
	"github.com/cajonfarm/cajon/host/task"
	"github.com/cajonfarm/cajon/host/updates"
	"github.com/cajonfarm/cajon/sdk/wire"
	"github.com/hashicorp/go-hclog"
)

// maxActivityBytes bounds an activity text taken from a log line.
const maxActivityBytes = 250

// reporter turns a running task's events into queued task updates: `active`
// first, then batches of log lines, activity and steps (one update per
// Timings.LogBatch or Timings.LogBatchBytes, never one per line), then the
// final status. It also writes the full log to the log store and hands
// preview images to the uploader. One reporter per task.
type reporter struct {
	queue      *updates.Queue
	log        hclog.Logger
	taskID     string
	batchEvery time.Duration
	batchBytes int
	limit      *loglimit.Limiter
	full       *logstore.TaskLog // nil when the log store is unavailable
	preview    *previewUploader

	mu          sync.Mutex
	text        strings.Builder // log lines not yet queued, each ending in "\n"
	activity    string          // activity not yet queued, "" for none
	lineAct     bool            // activity is a log line, not a plugin's own text
	sentAct     string
	steps       int // latest steps completed; -1 before the first
	sentSteps   int
	timer       *time.Timer
	done        bool
	appendFails int
	children    map[int]struct{}
}

func (w *Worker) newReporter(t task.Task) *reporter {
	r := &reporter{
		queue:      w.queue,
		log:        w.log.With("task", t.ID),
		taskID:     t.ID,
		batchEvery: w.tm.LogBatch,
		batchBytes: w.tm.LogBatchBytes,
		limit:      loglimit.New(w.cfg.MaxLogBytes),
		preview:    newPreviewUploader(w, t.ID),
		steps:      -1,
		sentSteps:  -1,
		children:   map[int]struct{}{},
	}
	if w.logs != nil && t.JobID != "" {
		full, err := w.logs.Writer(t.JobID, t.ID)
		if err != nil {
			r.log.Warn("the full log of this task is not kept on disk", "error", err)
		} else {
			r.full = full
			w.fullLogs.remember(t.ID, full.Path())
		}
	}
	return r
}

// begin queues the `active` status.
func (r *reporter) begin() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.append(updates.Update{TaskID: r.taskID, Status: string(flamenco.TaskActive), Activity: "starting"})
}

// Log implements task.Reporter.
func (r *reporter) Log(lines []string) {
	if len(lines) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.full != nil {
		if err := r.full.Append(lines); err != nil {
			r.log.Warn("writing the full task log failed; it is no longer kept on disk", "file", r.full.Path(), "error", err)
			r.full.Close()
			r.full = nil
		}
	}
	for _, l := range r.limit.Add(lines) {
		// Every line ends in its newline, as in the local log: a blank line
		// first in a batch, or a batch of one blank line, is "\n", where a
		// text that only separates lines would make it "" and the Manager,
		// which skips an empty log, would never see it.
		r.text.WriteString(l)
		r.text.WriteByte('\n')
	}
	if r.limit.Truncated() && (r.activity == "" || r.lineAct) {
		// The Manager's log no longer shows what happens; the activity does,
		// unless the command set one of its own in this batch.
		r.activity, r.lineAct = phrase.Cut(phrase.FirstLine(r.limit.Last()), maxActivityBytes), true
	}
	r.changed()
}

// Progress implements task.Reporter: steps < 0 or activity "" leave that
// part unchanged.
func (r *reporter) Progress(steps int, activity string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if steps >= 0 {
		r.steps = steps
	}
	if activity != "" {
		r.activity, r.lineAct = phrase.Cut(phrase.FirstLine(activity), maxActivityBytes), false
	}
	r.changed()
}

// Output implements task.Reporter: preview images go to the Manager.
func (r *reporter) Output(path, mime string) {
	if wire.IsPreview(path, mime) {
		r.preview.offer(path, mime)
	}
}

// Child implements task.Reporter.
func (r *reporter) Child(pid int, exited bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if exited {
		delete(r.children, pid)
	} else {
		r.children[pid] = struct{}{}
	}
}

// processes returns the task's live processes as the plugins reported them.
func (r *reporter) processes() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	pids := make([]int, 0, len(r.children))
	for p := range r.children {
		pids = append(pids, p)
	}
	slices.Sort(pids)
	return pids
}

// changed queues the batch when it is big enough, or makes sure it is queued
// within batchEvery. Call with mu held.
func (r *reporter) changed() {
	if r.done {
		return
	}
	if r.text.Len() >= r.batchBytes {
		r.flush()
		return
	}
	if r.timer == nil && r.pending() {
		r.timer = time.AfterFunc(r.batchEvery, r.flushLater)
	}
}

func (r *reporter) flushLater() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.timer = nil
	if !r.done {
		r.flush()
	}
}

// pending reports whether anything waits to be queued. Call with mu held.
func (r *reporter) pending() bool {
	return r.text.Len() > 0 || (r.activity != "" && r.activity != r.sentAct) || r.steps != r.sentSteps
}

// batch takes what waits to be queued into u. Call with mu held.
func (r *reporter) batch(u *updates.Update) {
	u.Log = r.text.String()
	r.text.Reset()
	if r.activity != "" && r.activity != r.sentAct {
		u.Activity = r.activity
		r.sentAct = r.activity
	}
	r.activity, r.lineAct = "", false
	if r.steps >= 0 && r.steps != r.sentSteps {
		n := r.steps
		u.StepsCompleted = &n
		r.sentSteps = r.steps
	}
}

// flush queues the waiting batch. Call with mu held.
func (r *reporter) flush() {
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	if !r.pending() {
		return
	}
	u := updates.Update{TaskID: r.taskID}
	r.batch(&u)
	if u.Log != "" || u.Activity != "" || u.StepsCompleted != nil {
		r.append(u)
	}
}

// finish queues what is left of the log (the limiter's held-back tail) and,
// unless status is "", the final status; a failure message becomes the
// activity. Later events are dropped.
func (r *reporter) finish(status flamenco.TaskStatus, message string) {
	r.preview.stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	r.done = true
	fullPath := ""
	if r.full != nil {
		fullPath = r.full.Path()
	}
	if tail, ok := r.limit.CloseText(fullPath); ok {
		r.text.WriteString(tail)
		r.text.WriteByte('\n')
	}
	if r.full != nil {
		if err := r.full.Close(); err != nil {
			r.log.Warn("closing the full task log", "error", err)
		}
		r.full = nil
	}
	if status == flamenco.TaskFailed && message != "" {
		r.activity = phrase.Cut(phrase.FirstLine(message), maxActivityBytes)
	}
	u := updates.Update{TaskID: r.taskID, Status: string(status)}
	r.batch(&u)
	// One update carries the last batch and the status: the Manager applies
	// the log first, and a zero-length task costs two queued updates.
	if u.Status != "" || u.Log != "" || u.Activity != "" || u.StepsCompleted != nil {
		r.append(u)
	}
}

// append queues u. Call with mu held.
func (r *reporter) append(u updates.Update) {
	// Never cut short: an update that returned nil from Append is on disk.
	err := r.queue.Append(context.Background(), u)
	switch {
	case err == nil:
	case errors.Is(err, updates.ErrNotDurable):
		// Held in memory and still delivered in order; the queue has
		// said so once already.
	default:
		r.appendFails++
		if r.appendFails == 1 || u.Status != "" {
			r.log.Error("queueing a task update failed; the Manager will miss it", "status", u.Status, "error", err)
		}
	}
}
