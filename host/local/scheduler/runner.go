// Package scheduler works the local queue: the Runner claims the ready
// tasks of due jobs from the job store, runs them through the task runner
// (and so the plugins) up to a number of slots at once, keeps their full
// logs and latest previews, records their progress and end, aborts the tasks
// of canceled or failed jobs, and removes old finished jobs (Pruner).
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cajonfarm/cajon/host/local/jobstore"
	"github.com/cajonfarm/cajon/host/logstore"
	"github.com/cajonfarm/cajon/host/task"
	"github.com/cajonfarm/cajon/sdk/phrase"
	"github.com/cajonfarm/cajon/sdk/wire"
	"github.com/hashicorp/go-hclog"
)

// DefaultPoll is how often a Runner saves progress, looks for canceled jobs
// and for jobs that became due.
const DefaultPoll = 250 * time.Millisecond

// PruneEvery is how often a Runner with KeepFinished removes old finished jobs.
const PruneEvery = time.Hour

// When the store refuses to record the end of a task (a full disk), no task
// starts and the record is tried again every poll. A runner that would stop
// (--until-idle, nothing else to do) keeps trying for its RecordPatience
// before it gives up with an error; a runner that is asked to stop tries
// once more. Failures are logged again every recordLogEvery.
const (
	DefaultRecordPatience = time.Minute
	recordLogEvery        = time.Minute
)

// Runner works a Store's queue: it runs ready tasks of due jobs, up to Slots
// at a time, through Tasks, keeps their full logs in Logs and records their
// progress and end in the Store.
type Runner struct {
	Store *jobstore.Store
	Tasks task.Executor
	Logs  *logstore.Store
	// Slots is how many tasks run at once (0 = 1).
	Slots int
	// PreviewDir keeps each task's latest preview image (a JPEG output whose
	// path has a "cajon-preview" folder); "" leaves previews where the plugin
	// wrote them.
	PreviewDir string
	// Poll is the interval of saving progress and looking for canceled and
	// due jobs (0 = DefaultPoll).
	Poll time.Duration
	// KeepFinished, when > 0, makes Run remove finished jobs (with their logs
	// and previews, see Pruner) this long after their last run ended: at
	// start and every PruneEvery while it runs.
	KeepFinished time.Duration
	// RecordPatience is how long a runner that would stop keeps trying to
	// record the end of a task before it gives up (0 =
	// DefaultRecordPatience).
	RecordPatience time.Duration
	// Logger receives the runner's own messages; nil logs nothing.
	Logger hclog.Logger
	// Events, when not nil, is told when tasks start and end. It is called
	// from Run's goroutine and must return quickly.
	Events func(Event)

	mu      sync.Mutex
	running map[int64]*runningTask // by task id

	// Only Run's goroutine uses these.
	unrecorded      []*unrecorded // ended attempts the store refused to record
	progressFailing bool          // the last save of progress failed
	// record stores the end of an attempt; tests replace it.
	record func(ctx context.Context, c jobstore.Claim, e jobstore.Ending) (*jobstore.JobEnd, error)
}

// unrecorded is the end of an attempt that the store could not record yet.
type unrecorded struct {
	c      jobstore.Claim
	e      jobstore.Ending
	err    error // the latest refusal
	since  time.Time
	tries  int
	logged time.Time
}

// EventKind says what an Event reports.
type EventKind int

// The kinds of Event.
const (
	// TaskRecovered: a task that a crashed runner left running is queued again
	// (Status "queued"), or canceled because its job ended meanwhile.
	TaskRecovered EventKind = iota
	// TaskStarted: a task started.
	TaskStarted
	// TaskEnded: a task ended with Status completed, failed, canceled, or
	// queued (interrupted by a shutdown: it runs again next time).
	TaskEnded
	// JobEnded: a job's run ended with Status completed, failed or canceled;
	// a recurring job is re-armed for NextDue.
	JobEnded
)

// Event is something a Runner did, for displays and logs.
type Event struct {
	Kind    EventKind
	Time    time.Time
	JobID   int64
	JobName string
	Task    string
	Run     int
	Status  string
	Message string
	// Took is how long the task ran (TaskEnded).
	Took time.Duration
	// NextDue is when a recurring job runs again (JobEnded); zero otherwise.
	NextDue time.Time
}

// Progress is a running task as a live display shows it.
type Progress struct {
	JobID      int64
	JobName    string
	Task       string
	Run        int
	StepsDone  int
	StepsTotal int
	Activity   string
	// LastLine is the latest line of the task's log.
	LastLine string
	Started  time.Time
	Pids     []int
}

// Summary counts what one Run did.
type Summary struct {
	Completed, Failed, Canceled, Interrupted int
	// FailedJobs lists the jobs whose run failed during this Run.
	FailedJobs []int64
}

// Causes of a task's abort.
var (
	errShutdown    = errors.New("cajon local run is stopping")
	errJobCanceled = errors.New("the job was canceled")
	errJobFailed   = errors.New("another task of the job failed")
)

// taskDone is a finished attempt, sent to Run's loop.
type taskDone struct {
	rt      *runningTask
	outcome task.Outcome
	at      time.Time
}

// Run works the queue until ctx is done; with untilIdle it also returns when
// no task runs and none is ready (nothing due, or only jobs whose time has
// not come). First it takes the runner lock (one runner per store) and puts
// tasks a crashed runner left running back in the queue.
//
// When ctx is done, running tasks are aborted (their process trees killed)
// and recorded as queued again, not failed: they run at the next Run.
func (r *Runner) Run(ctx context.Context, untilIdle bool) (Summary, error) {
	var sum Summary
	log := r.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	slots := max(r.Slots, 1)
	poll := r.Poll
	if poll <= 0 {
		poll = DefaultPoll
	}
	if r.record == nil {
		r.record = r.Store.FinishTask
	}
	patience := r.RecordPatience
	if patience <= 0 {
		patience = DefaultRecordPatience
	}
	r.unrecorded = nil
	release, err := r.Store.LockRunner()
	if err != nil {
		return sum, err
	}
	defer release()
	// Last, under the lock: what this runner leaves only waits.
	defer func() {
		if err := r.Store.RequeueIdleJobs(ctx); err != nil {
			log.Warn("cannot mark the jobs left behind as queued", "error", err)
		}
	}()
	recs, err := r.Store.RecoverInterrupted(ctx)
	if err != nil {
		return sum, err
	}
	for _, rc := range recs {
		log.Warn("task was interrupted by a crash", "job", rc.JobID, "task", rc.Task, "now", rc.Status)
		r.emit(Event{Kind: TaskRecovered, Time: time.Now(), JobID: rc.JobID, JobName: rc.JobName, Task: rc.Task, Status: rc.Status})
	}
	// Said once the lock is ours: a second runner refuses before this.
	log.Info("working the local queue", "store", r.Store.Path(), "slots", slots, "until_idle", untilIdle)

	var pruneTick <-chan time.Time
	if r.KeepFinished > 0 {
		r.pruneFinished(ctx, log)
		t := time.NewTicker(PruneEvery)
		defer t.Stop()
		pruneTick = t.C
	}

	r.mu.Lock()
	r.running = map[int64]*runningTask{}
	r.mu.Unlock()
	done := make(chan taskDone)
	ticker := time.NewTicker(poll)
	defer ticker.Stop()
	stopping := ctx.Done()
	var claimErr error
	for {
		if ctx.Err() == nil {
			n := r.count()
			started := 0
			// No task starts while the end of another is not recorded:
			// the disk is most likely full.
			if n < slots && len(r.unrecorded) == 0 {
				claims, err := r.Store.ClaimTasks(ctx, slots-n, time.Now(), r.logPath)
				if err != nil {
					if claimErr == nil || claimErr.Error() != err.Error() {
						log.Error("cannot take tasks from the queue; retrying", "error", err)
					}
					claimErr = err
				} else {
					claimErr = nil
				}
				for _, c := range claims {
					r.start(ctx, c, done)
					started++
				}
			}
			if untilIdle && n == 0 && started == 0 {
				if len(r.unrecorded) > 0 {
					if time.Since(r.unrecorded[0].since) >= patience {
						return sum, r.unrecordedError()
					}
				} else {
					// Idle, or the queue cannot be read: either way,
					// nothing more will happen in this run.
					return sum, claimErr
				}
			}
		} else if r.count() == 0 {
			r.saveProgress(log)
			if r.retryRecords(ctx, &sum, log); len(r.unrecorded) > 0 {
				return sum, r.unrecordedError()
			}
			return sum, nil
		}
		select {
		case d := <-done:
			r.finish(ctx, d, &sum, log)
		case <-ticker.C:
			r.retryRecords(ctx, &sum, log)
			r.saveProgress(log)
			r.abortCanceled(ctx, log)
		case <-pruneTick:
			r.pruneFinished(ctx, log)
		case <-stopping:
			stopping = nil
			r.abortAll(errShutdown)
		}
	}
}

// pruneFinished removes the jobs that finished more than KeepFinished ago.
// A failure is logged, not fatal: the queue works on, and the next prune
// tries again.
func (r *Runner) pruneFinished(ctx context.Context, log hclog.Logger) {
	before := time.Now().Add(-r.KeepFinished)
	res, err := Pruner{Store: r.Store, Logs: r.Logs, PreviewDir: r.PreviewDir}.Prune(ctx, before)
	if err != nil {
		log.Warn("cannot remove old finished jobs", "error", err)
	}
	if len(res.Jobs) == 0 {
		log.Debug("no finished job to remove", "keep_finished", r.KeepFinished)
		return
	}
	log.Info("removed finished jobs", "jobs", len(res.Jobs), "ids", res.Jobs, "keep_finished", r.KeepFinished,
		"log_files", res.LogFiles, "log_bytes", res.LogBytes, "previews", res.Previews)
}

// Running returns the tasks running now, oldest first.
func (r *Runner) Running() []Progress {
	r.mu.Lock()
	tasks := make([]*runningTask, 0, len(r.running))
	for _, rt := range r.running {
		tasks = append(tasks, rt)
	}
	r.mu.Unlock()
	out := make([]Progress, 0, len(tasks))
	for _, rt := range tasks {
		out = append(out, rt.snapshot())
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Started.Equal(out[j].Started) {
			return out[i].Started.Before(out[j].Started)
		}
		return out[i].Task < out[j].Task
	})
	return out
}

func (r *Runner) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.running)
}

func (r *Runner) emit(e Event) {
	if r.Events != nil {
		r.Events(e)
	}
}

// logPath names a task's log in the log store (see TaskLogPath).
func (r *Runner) logPath(jobID int64, taskName string, run int) (string, error) {
	return TaskLogPath(r.Logs, jobID, taskName, run)
}

// TaskLogPath names the full log of one run of a task in the log store:
// logs/local-<job>/<task>.log, and <task>.run<N>.log for a recurring job's
// later runs. The file may not exist: the task did not run in that run, or
// the store's caps removed it.
func TaskLogPath(logs *logstore.Store, jobID int64, taskName string, run int) (string, error) {
	return logs.Path(logJobKey(jobID), logTaskKey(taskName, run))
}

func logJobKey(jobID int64) string { return fmt.Sprintf("local-%d", jobID) }

func logTaskKey(name string, run int) string {
	if run <= 1 {
		return name
	}
	return fmt.Sprintf("%s.run%d", name, run)
}

// start runs a claimed task in its own goroutine.
func (r *Runner) start(ctx context.Context, c jobstore.Claim, done chan<- taskDone) {
	// Not derived from ctx: a shutdown cancels it with its own cause.
	tctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	rt := &runningTask{claim: c, cancel: cancel, ctx: tctx, previewDir: r.PreviewDir, pids: map[int]bool{}}
	r.mu.Lock()
	r.running[c.TaskID] = rt
	r.mu.Unlock()
	r.emit(Event{Kind: TaskStarted, Time: c.Started, JobID: c.JobID, JobName: c.JobName, Task: c.Task.Name, Run: c.Run})
	go func() {
		out := r.execute(tctx, rt)
		done <- taskDone{rt: rt, outcome: out, at: time.Now()}
	}()
}

// execute runs one attempt with its log open.
func (r *Runner) execute(ctx context.Context, rt *runningTask) task.Outcome {
	c := rt.claim
	w, err := r.Logs.Writer(logJobKey(c.JobID), logTaskKey(c.Task.Name, c.Run))
	if err != nil {
		return task.Outcome{Status: task.Failed, Message: err.Error()}
	}
	rt.log = w
	defer w.Close()
	start := fmt.Sprintf(wire.HostLinePrefix+"job %d %q, task %q, run %d: started at %s by pid %d",
		c.JobID, c.JobName, c.Task.Name, c.Run, c.Started.Format(time.RFC3339), os.Getpid())
	if c.WorkDir != "" {
		start += " in " + c.WorkDir
	}
	rt.Log([]string{start})
	cmds := make([]task.Command, len(c.Task.Commands))
	for i, cmd := range c.Task.Commands {
		cmds[i] = task.Command{Name: cmd.Name, Params: cmd.Parameters, TotalSteps: cmd.TotalStepCount}
	}
	out := r.Tasks.Run(ctx, task.Task{
		ID: fmt.Sprintf("local-%d", c.TaskID), JobID: logJobKey(c.JobID), Name: c.Task.Name, Type: c.Task.Type, Commands: cmds,
		WorkDir: c.WorkDir,
	}, rt)
	end := out.Status.String()
	if out.Message != "" {
		end += ": " + out.Message
	}
	rt.Log([]string{fmt.Sprintf(wire.HostLinePrefix+"task %q %s (after %s)", c.Task.Name, end, time.Since(c.Started).Round(time.Millisecond))})
	return out
}

// finish records an ended attempt and reacts: a failure aborts the job's
// other running tasks.
func (r *Runner) finish(ctx context.Context, d taskDone, sum *Summary, log hclog.Logger) {
	// A shutdown must still record what it did.
	ctx = context.WithoutCancel(ctx)
	rt := d.rt
	c := rt.claim
	r.mu.Lock()
	delete(r.running, c.TaskID)
	r.mu.Unlock()
	p := rt.snapshot()
	e := jobstore.Ending{At: d.at, Message: d.outcome.Message, Steps: d.outcome.StepsCompleted}
	switch d.outcome.Status {
	case task.Completed:
		e.Status = jobstore.TaskCompleted
	case task.Canceled:
		switch cause := context.Cause(rt.ctx); {
		case errors.Is(cause, errShutdown):
			e.Status, e.Message = jobstore.TaskQueued, "interrupted: cajon local run stopped; it runs again next time"
		case errors.Is(cause, errJobCanceled):
			e.Status, e.Message = jobstore.TaskCanceled, "aborted: the job was canceled"
		case errors.Is(cause, errJobFailed):
			e.Status, e.Message = jobstore.TaskCanceled, "aborted: another task of the job failed"
		default:
			e.Status = jobstore.TaskFailed // the plugin gave up on its own
		}
	default:
		e.Status = jobstore.TaskFailed
	}
	rt.cancel(nil)
	// The last progress goes in with the end, so outputs and previews stay.
	if err := r.Store.SaveProgress(ctx, []jobstore.TaskProgress{rt.progressRow(p)}); err != nil {
		log.Warn("cannot save task progress", "error", err)
	}
	end, err := r.record(ctx, c, e)
	switch {
	case errors.Is(err, jobstore.ErrStale):
		log.Warn("the end of a task was not recorded: another runner took it over", "job", c.JobID, "task", c.Task.Name, "error", err)
	case err != nil:
		u := &unrecorded{c: c, e: e, err: err, since: time.Now(), tries: 1, logged: time.Now()}
		r.unrecorded = append(r.unrecorded, u)
		log.Error("cannot record the end of a task: no task starts until it is recorded; retrying",
			"job", c.JobID, "task", c.Task.Name, "status", e.Status, "disk", r.Store.Disk(), "error", err)
	}
	switch e.Status {
	case jobstore.TaskCompleted:
		sum.Completed++
	case jobstore.TaskFailed:
		sum.Failed++
	case jobstore.TaskCanceled:
		sum.Canceled++
	case jobstore.TaskQueued:
		sum.Interrupted++
	}
	r.emit(Event{Kind: TaskEnded, Time: d.at, JobID: c.JobID, JobName: c.JobName, Task: c.Task.Name, Run: c.Run,
		Status: e.Status, Message: e.Message, Took: d.at.Sub(c.Started)})
	if e.Status == jobstore.TaskFailed {
		r.abortJob(c.JobID, errJobFailed)
	}
	r.jobEnded(c, end, d.at, sum)
}

// jobEnded reports the end of a job's run, when recording a task's end
// ended it.
func (r *Runner) jobEnded(c jobstore.Claim, end *jobstore.JobEnd, at time.Time, sum *Summary) {
	if end == nil {
		return
	}
	if end.State == jobstore.JobFailed {
		sum.FailedJobs = append(sum.FailedJobs, c.JobID)
	}
	r.emit(Event{Kind: JobEnded, Time: at, JobID: c.JobID, JobName: c.JobName, Run: c.Run,
		Status: end.State, Message: end.Message, NextDue: end.Next})
}

// retryRecords tries again to record the ends the store refused, in the
// order the tasks ended.
func (r *Runner) retryRecords(ctx context.Context, sum *Summary, log hclog.Logger) {
	ctx = context.WithoutCancel(ctx)
	for len(r.unrecorded) > 0 {
		u := r.unrecorded[0]
		end, err := r.record(ctx, u.c, u.e)
		if err != nil && !errors.Is(err, jobstore.ErrStale) {
			u.err = err
			u.tries++
			if time.Since(u.logged) >= recordLogEvery {
				u.logged = time.Now()
				log.Error("still cannot record the end of a task: no task starts until it is recorded", "job", u.c.JobID,
					"task", u.c.Task.Name, "refused", u.tries, "for", time.Since(u.since).Round(time.Second), "disk", r.Store.Disk(), "error", err)
			}
			return
		}
		r.unrecorded = r.unrecorded[1:]
		if err != nil {
			log.Warn("the end of a task was not recorded: another runner took it over", "job", u.c.JobID, "task", u.c.Task.Name, "error", err)
			continue
		}
		log.Info("recorded the end of a task; tasks start again", "job", u.c.JobID, "task", u.c.Task.Name, "status", u.e.Status,
			"refused", u.tries, "after", time.Since(u.since).Round(time.Millisecond))
		r.jobEnded(u.c, end, u.e.At, sum)
	}
}

// unrecordedError is Run's error when ends of tasks could not be recorded.
func (r *Runner) unrecordedError() error {
	u := r.unrecorded[0]
	names := make([]string, len(r.unrecorded))
	for i, x := range r.unrecorded {
		names[i] = fmt.Sprintf("task %q of job %d", x.c.Task.Name, x.c.JobID)
	}
	return fmt.Errorf("could not record the end of %s in %s (refused %d times over %s; %s): free space there; %s run again at the next 'cajon local run': %w",
		strings.Join(names, ", "), r.Store.Path(), u.tries, time.Since(u.since).Round(time.Second), r.Store.Disk(),
		phrase.Plural(len(names), "it will", "they will"), u.err)
}

// abortJob aborts the running tasks of a job.
func (r *Runner) abortJob(jobID int64, cause error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rt := range r.running {
		if rt.claim.JobID == jobID {
			rt.cancel(cause)
		}
	}
}

// abortAll aborts every running task.
func (r *Runner) abortAll(cause error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rt := range r.running {
		rt.cancel(cause)
	}
}

// abortCanceled aborts the running tasks of jobs canceled in the store.
func (r *Runner) abortCanceled(ctx context.Context, log hclog.Logger) {
	r.mu.Lock()
	ids := map[int64]bool{}
	for _, rt := range r.running {
		ids[rt.claim.JobID] = true
	}
	r.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	list := make([]int64, 0, len(ids))
	for id := range ids {
		list = append(list, id)
	}
	states, err := r.Store.JobStates(ctx, list)
	if err != nil {
		log.Warn("cannot check for canceled jobs", "error", err)
		return
	}
	for id, state := range states {
		if state == jobstore.JobCanceled {
			r.abortJob(id, errJobCanceled)
		}
	}
}

// saveProgress writes the running tasks' progress that changed.
func (r *Runner) saveProgress(log hclog.Logger) {
	r.mu.Lock()
	var rows []jobstore.TaskProgress
	for _, rt := range r.running {
		if rt.takeDirty() {
			rows = append(rows, rt.progressRow(rt.snapshot()))
		}
	}
	r.mu.Unlock()
	// Said once while it lasts: a full disk fails this every poll.
	err := r.Store.SaveProgress(context.Background(), rows)
	switch {
	case err != nil && !r.progressFailing:
		log.Warn("cannot save task progress; retrying", "error", err)
	case err == nil && r.progressFailing:
		log.Info("task progress is saved again")
	}
	r.progressFailing = err != nil
}
