package managertest

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Job is a job for AddJob. Empty fields get defaults.
type Job struct {
	ID       string // default: a new id (Config.NewID)
	Name     string // default: "job-N"
	Type     string // job_type; default "simple-blender-render"
	Priority int    // job_priority; default 50
	Tasks    []Task
}

// Task is a task of a Job.
type Task struct {
	ID string // default: a new id (Config.NewID)
	// Name defaults to "task-N". Like the real Manager's, names need not be
	// unique: its Echo Sleep Test job has two tasks named "sleep".
	Name     string
	Type     string // task_type; default "misc"
	Priority int    // default 50
	Commands []Command
	// DependsOn names earlier tasks of the same job (by Name; every task of
	// that name) that must be completed before this one is scheduled.
	DependsOn []string
}

// Command is a command of a Task, as the worker receives it.
type Command struct {
	Name           string
	Parameters     map[string]any // nil is sent as {}
	TotalStepCount int
}

// Task statuses, as on the wire.
const (
	StatusActive     = "active"
	StatusCanceled   = "canceled"
	StatusCompleted  = "completed"
	StatusFailed     = "failed"
	StatusQueued     = "queued"
	StatusSoftFailed = "soft-failed"
	StatusPaused     = "paused"
)

// Worker statuses, as on the wire.
const (
	WorkerStarting = "starting"
	WorkerAwake    = "awake"
	WorkerAsleep   = "asleep"
	WorkerError    = "error"
	WorkerTesting  = "testing"
	WorkerOffline  = "offline"
	WorkerRestart  = "restart"
)

func knownTaskStatus(s string) bool {
	switch s {
	case StatusActive, StatusCanceled, StatusCompleted, StatusFailed, StatusQueued, StatusSoftFailed, StatusPaused:
		return true
	}
	return false
}

func knownWorkerStatus(s string) bool {
	switch s {
	case WorkerStarting, WorkerAwake, WorkerAsleep, WorkerError, WorkerTesting, WorkerOffline, WorkerRestart:
		return true
	}
	return false
}

type worker struct {
	id, name, secret, platform string
	taskTypes                  []string
	software                   string
	canRestart                 bool
	status                     string
	requested                  string // pending status change, "" for none
	lazy                       bool
	signOns                    int
	stateChanges               []string
}

type job struct {
	id, name, typ string
	priority      int
	tasks         []*task
	canceled      bool
	failed        bool
	failures      map[string]int  // failures per worker
	blocklist     map[string]bool // workers that get no more of its tasks
}

type task struct {
	id, name, typ   string
	job             *job
	priority        int
	order           int
	commands        []Command
	dependsOn       []*task
	status          string
	worker          string
	activity        string
	log             strings.Builder
	steps, total    int
	failures        int
	updates         []TaskUpdate
	updatesReceived int
	assignments     int
}

// TaskUpdate is one accepted task update, as the worker sent it. A nil
// field was absent from the request.
type TaskUpdate struct {
	Worker         string
	TaskStatus     *string
	Activity       *string
	Log            *string
	StepsCompleted *int
}

// TaskState is a snapshot of a task.
type TaskState struct {
	ID, JobID, Name, Type string
	Status                string
	Worker                string // the worker it is assigned to, "" when none
	Activity              string
	Log                   string // every log text received, newline-terminated
	StepsCompleted        int
	StepsTotal            int
	Failures              int          // times a worker reported it failed
	Assignments           int          // times scheduleTask handed it out, repeats included
	Updates               []TaskUpdate // accepted updates in arrival order
	UpdatesReceived       int          // update requests for it, rejected ones included
}

// JobState is a snapshot of a job.
type JobState struct {
	ID, Name, Type string
	Status         string // queued, active, completed, failed or canceled
	TaskIDs        []string
	Blocklist      []string // workers that get no more of its tasks
}

// WorkerState is a snapshot of a worker.
type WorkerState struct {
	ID, Name, Secret, Platform string
	SupportedTaskTypes         []string
	SoftwareVersion            string
	CanRestart                 bool
	Status                     string
	StatusRequested            string // pending change, "" for none
	LazyRequest                bool
	SignOns                    int
	StateChanges               []string // every status acknowledged with state-changed, in order
}

// Output is an image accepted by output-produced.
type Output struct {
	TaskID, Worker, ContentType string
	Data                        []byte
}

// Request is one HTTP request as the Manager saw it.
type Request struct {
	Op        string // one of the Op constants, or "" for an unknown endpoint
	Method    string
	Path      string
	TaskID    string
	Worker    string // the Basic auth user name, if any
	UserAgent string
	Status    int  // the status answered; 0 when the connection was reset
	Fault     bool // a fault shaped the answer
}

// AddJob queues a job and returns it with every default and id filled in.
// It panics on a malformed job (a test bug): a duplicate id, or a dependency
// on no earlier task.
func (m *Manager) AddJob(j Job) Job {
	m.mu.Lock()
	defer m.mu.Unlock()
	if j.ID == "" {
		j.ID = m.newID()
	}
	if _, dup := m.jobs[j.ID]; dup {
		panic(fmt.Sprintf("managertest: AddJob: duplicate job id %q", j.ID))
	}
	if j.Name == "" {
		j.Name = fmt.Sprintf("job-%d", len(m.jobOrder)+1)
	}
	if j.Type == "" {
		j.Type = "simple-blender-render"
	}
	if j.Priority == 0 {
		j.Priority = 50
	}
	jb := &job{id: j.ID, name: j.Name, typ: j.Type, priority: j.Priority, failures: map[string]int{}, blocklist: map[string]bool{}}
	byName := map[string][]*task{}
	j.Tasks = slices.Clone(j.Tasks)
	for i := range j.Tasks {
		t := &j.Tasks[i]
		if t.ID == "" {
			t.ID = m.newID()
		}
		if _, dup := m.tasks[t.ID]; dup {
			panic(fmt.Sprintf("managertest: AddJob: duplicate task id %q", t.ID))
		}
		if t.Name == "" {
			t.Name = fmt.Sprintf("task-%d", i+1)
		}
		if t.Type == "" {
			t.Type = "misc"
		}
		if t.Priority == 0 {
			t.Priority = 50
		}
		tk := &task{
			id: t.ID, name: t.Name, typ: t.Type, job: jb, priority: t.Priority,
			order: len(m.tasks), status: StatusQueued,
		}
		for _, c := range t.Commands {
			c.Parameters = maps.Clone(c.Parameters)
			if c.Parameters == nil {
				c.Parameters = map[string]any{}
			}
			tk.commands = append(tk.commands, c)
			tk.total += max(1, c.TotalStepCount)
		}
		for _, dep := range t.DependsOn {
			d, ok := byName[dep]
			if !ok {
				panic(fmt.Sprintf("managertest: AddJob: task %q depends on %q, which is not an earlier task of job %q", t.Name, dep, j.Name))
			}
			tk.dependsOn = append(tk.dependsOn, d...)
		}
		byName[t.Name] = append(byName[t.Name], tk)
		m.tasks[tk.id] = tk
		jb.tasks = append(jb.tasks, tk)
	}
	m.jobs[jb.id] = jb
	m.jobOrder = append(m.jobOrder, jb.id)
	m.notify()
	return j
}

// Task returns a snapshot of a task; ok is false for an unknown id.
func (m *Manager) Task(id string) (TaskState, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tasks[id]
	if !ok {
		return TaskState{}, false
	}
	return TaskState{
		ID: t.id, JobID: t.job.id, Name: t.name, Type: t.typ,
		Status: t.status, Worker: t.worker, Activity: t.activity, Log: t.log.String(),
		StepsCompleted: t.steps, StepsTotal: t.total, Failures: t.failures,
		Assignments: t.assignments, Updates: slices.Clone(t.updates), UpdatesReceived: t.updatesReceived,
	}, true
}

// Job returns a snapshot of a job; ok is false for an unknown id.
func (m *Manager) Job(id string) (JobState, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, ok := m.jobs[id]
	if !ok {
		return JobState{}, false
	}
	s := JobState{ID: j.id, Name: j.name, Type: j.typ, Status: j.status()}
	for _, t := range j.tasks {
		s.TaskIDs = append(s.TaskIDs, t.id)
	}
	for w := range j.blocklist {
		s.Blocklist = append(s.Blocklist, w)
	}
	slices.Sort(s.Blocklist)
	return s, true
}

func (j *job) status() string {
	switch {
	case j.canceled:
		return StatusCanceled
	case j.failed:
		return StatusFailed
	}
	done, started := 0, false
	for _, t := range j.tasks {
		switch t.status {
		case StatusCompleted:
			done++
			started = true
		case StatusActive, StatusSoftFailed:
			started = true
		}
	}
	switch {
	case done == len(j.tasks):
		return StatusCompleted
	case started:
		return StatusActive
	}
	return StatusQueued
}

// Workers returns snapshots of every registered worker, oldest first.
func (m *Manager) Workers() []WorkerState {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]WorkerState, 0, len(m.workerOrder))
	for _, id := range m.workerOrder {
		if w, ok := m.workers[id]; ok {
			out = append(out, w.state())
		}
	}
	return out
}

// Worker returns a snapshot of one worker; ok is false for an unknown id.
func (m *Manager) Worker(id string) (WorkerState, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w, ok := m.workers[id]
	if !ok {
		return WorkerState{}, false
	}
	return w.state(), true
}

func (w *worker) state() WorkerState {
	return WorkerState{
		ID: w.id, Name: w.name, Secret: w.secret, Platform: w.platform,
		SupportedTaskTypes: slices.Clone(w.taskTypes), SoftwareVersion: w.software,
		CanRestart: w.canRestart, Status: w.status, StatusRequested: w.requested,
		LazyRequest: w.lazy, SignOns: w.signOns, StateChanges: slices.Clone(w.stateChanges),
	}
}

// AddWorker registers a worker as if it had called register-worker and
// returns its id, for tests that start with credentials already known.
func (m *Manager) AddWorker(name, secret string, taskTypes ...string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.addWorker(name, secret, "linux", taskTypes)
}

func (m *Manager) addWorker(name, secret, platform string, taskTypes []string) string {
	// No status until it signs on: the real Manager answers register-worker
	// with "status": "".
	w := &worker{id: m.newID(), name: name, secret: secret, platform: platform, taskTypes: slices.Clone(taskTypes)}
	m.workers[w.id] = w
	m.workerOrder = append(m.workerOrder, w.id)
	m.notify()
	return w.id
}

// ForgetWorker deletes a worker, as an admin can in the web interface: its
// tasks are requeued and its credentials get 403 from now on.
func (m *Manager) ForgetWorker(id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.workers[id]; !ok {
		return errUnknownWorker(id)
	}
	m.requeueTasksOf(id)
	delete(m.workers, id)
	m.notify()
	return nil
}

// RequestStatus asks a worker to go to status, as the web interface does. A
// lazy request reaches the worker as 423 on its next scheduleTask (and from
// GET state); an immediate one also makes may-i-run say no. Like the real
// Manager it refuses "restart" for a worker that signed on without
// can_restart. An empty status withdraws a pending request.
func (m *Manager) RequestStatus(workerID, status string, lazy bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	w, ok := m.workers[workerID]
	if !ok {
		return errUnknownWorker(workerID)
	}
	if status != "" && !knownWorkerStatus(status) {
		return fmt.Errorf("managertest: RequestStatus: unknown worker status %q", status)
	}
	if status == WorkerRestart && !w.canRestart {
		return fmt.Errorf("managertest: RequestStatus: worker %q signed on without can_restart", w.name)
	}
	w.requested, w.lazy = status, lazy && status != ""
	m.streamWorker(w)
	m.notify()
	return nil
}

// TimeOutWorker does what the Manager does to a worker it has not heard
// from for worker_timeout: status error, its active tasks requeued. The
// worker then gets 409 from scheduleTask until it signs on again.
func (m *Manager) TimeOutWorker(id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	w, ok := m.workers[id]
	if !ok {
		return errUnknownWorker(id)
	}
	w.status = WorkerError
	m.requeueTasksOf(id)
	m.notify()
	return nil
}

// CancelJob cancels a job: every task that is not completed becomes
// canceled, so may-i-run tells its worker to stop.
func (m *Manager) CancelJob(id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, ok := m.jobs[id]
	if !ok {
		return fmt.Errorf("managertest: no job %q", id)
	}
	// The real Manager announces a mass cancel once, with refresh_tasks, and
	// sends no update per task.
	m.streamJob(j, "cancel-requested", j.status(), true)
	j.canceled = true
	for _, t := range j.tasks {
		if t.status != StatusCompleted {
			t.status = StatusCanceled
			m.stream.sentTask[t.id] = t.status
		}
	}
	m.stream.sentJob[j.id] = "cancel-requested"
	m.notify()
	return nil
}

// CancelTask cancels one task. It stays assigned to its worker, whose
// may-i-run now answers no.
func (m *Manager) CancelTask(id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tasks[id]
	if !ok {
		return fmt.Errorf("managertest: no task %q", id)
	}
	t.status = StatusCanceled
	m.notify()
	return nil
}

// HoldOutputs makes accepted output-produced images pile up in the
// Manager's queue (OutputQueueSize) instead of being processed at once; a
// full queue answers 429. HoldOutputs(false) empties the queue.
func (m *Manager) HoldOutputs(hold bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.holdOutputs = hold
	if !hold {
		m.outputQueue = 0
	}
	m.notify()
}

// Outputs returns every image accepted by output-produced, in order.
func (m *Manager) Outputs() []Output {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.outputs)
}

// Requests returns every request received so far, in arrival order.
func (m *Manager) Requests() []Request {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.requests)
}

// Connections counts the TCP connections accepted so far; with keep-alive a
// sequential client needs one.
func (m *Manager) Connections() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.connections
}

// ProtocolErrors lists every request the Manager rejected as malformed (400,
// unknown endpoint or method), each with the reason. A well-behaved worker
// produces none.
func (m *Manager) ProtocolErrors() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.protocolErrors)
}

// requeueTasksOf puts a worker's active tasks back in the queue; call with mu held.
func (m *Manager) requeueTasksOf(workerID string) {
	for _, t := range m.tasks {
		if t.worker == workerID && t.status == StatusActive {
			t.status = StatusQueued
			t.worker = ""
		}
	}
}

// nextTask picks the task to give a worker; call with mu held. Highest job
// priority first, then task priority, then the order tasks were added.
func (m *Manager) nextTask(w *worker) *task {
	var best *task
	for _, t := range m.tasks {
		if !m.runnable(t, w) {
			continue
		}
		if best == nil || better(t, best) {
			best = t
		}
	}
	return best
}

func better(a, b *task) bool {
	if a.job.priority != b.job.priority {
		return a.job.priority > b.job.priority
	}
	if a.priority != b.priority {
		return a.priority > b.priority
	}
	return a.order < b.order
}

func (m *Manager) runnable(t *task, w *worker) bool {
	if t.status != StatusQueued && t.status != StatusSoftFailed {
		return false
	}
	if t.job.canceled || t.job.failed || t.job.blocklist[w.id] {
		return false
	}
	if !slices.Contains(w.taskTypes, t.typ) {
		return false
	}
	for _, d := range t.dependsOn {
		if d.status != StatusCompleted {
			return false
		}
	}
	return true
}

// fail handles a "failed" task update; call with mu held.
func (m *Manager) fail(t *task, workerID string) {
	t.failures++
	j := t.job
	j.failures[workerID]++
	if j.failures[workerID] >= m.cfg.BlocklistThreshold {
		j.blocklist[workerID] = true
	}
	t.worker = ""
	if t.failures < m.cfg.FailAfter {
		t.status = StatusSoftFailed
		return
	}
	t.status = StatusFailed
	j.failed = true
	for _, other := range j.tasks {
		switch other.status {
		case StatusQueued, StatusSoftFailed, StatusActive, StatusPaused:
			other.status = StatusCanceled
		}
	}
}
