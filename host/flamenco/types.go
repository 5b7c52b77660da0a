package flamenco

// WorkerStatus is a worker's state as the Manager knows it.
type WorkerStatus string

// The worker states of the Flamenco 3 protocol.
const (
	WorkerStarting WorkerStatus = "starting" // signed on, not yet awake
	WorkerAwake    WorkerStatus = "awake"    // fetching and running tasks
	WorkerAsleep   WorkerStatus = "asleep"   // idle, polling for state changes
	WorkerError    WorkerStatus = "error"    // set by the Manager, e.g. after a timeout
	WorkerTesting  WorkerStatus = "testing"  // reserved by the Manager for test runs
	WorkerOffline  WorkerStatus = "offline"  // signed off
	WorkerRestart  WorkerStatus = "restart"  // asked to restart its process
)

// Known reports whether s is one of the statuses the protocol defines.
func (s WorkerStatus) Known() bool {
	switch s {
	case WorkerStarting, WorkerAwake, WorkerAsleep, WorkerError, WorkerTesting, WorkerOffline, WorkerRestart:
		return true
	}
	return false
}

// TaskStatus is a task's state on the Manager.
type TaskStatus string

// The task states of the Flamenco 3 protocol. A worker sends only active,
// completed, failed (and canceled when it gave up on its own); soft-failed is
// decided by the Manager and is rejected when a worker sends it.
const (
	TaskActive     TaskStatus = "active"
	TaskCanceled   TaskStatus = "canceled"
	TaskCompleted  TaskStatus = "completed"
	TaskFailed     TaskStatus = "failed"
	TaskQueued     TaskStatus = "queued"
	TaskSoftFailed TaskStatus = "soft-failed"
	TaskPaused     TaskStatus = "paused"
)

// Known reports whether s is one of the statuses the protocol defines.
func (s TaskStatus) Known() bool {
	switch s {
	case TaskActive, TaskCanceled, TaskCompleted, TaskFailed, TaskQueued, TaskSoftFailed, TaskPaused:
		return true
	}
	return false
}

// Version is the Manager's answer to GET /api/v3/version.
type Version struct {
	Version      string `json:"version"`      // for people, may include git details
	ShortVersion string `json:"shortversion"` // e.g. "3.6"
	Name         string `json:"name"`         // the Manager's configured name
	Git          string `json:"git"`          // git describe of the Manager build
}

// WorkerRegistration is the body of register-worker.
type WorkerRegistration struct {
	Name               string   `json:"name"`
	Secret             string   `json:"secret"`   // plain text; the Manager keeps only a hash
	Platform           string   `json:"platform"` // GOOS, e.g. "linux"
	SupportedTaskTypes []string `json:"supported_task_types"`
}

// RegisteredWorker is the Manager's answer to register-worker. UUID is the
// worker's id from now on: the user name of its HTTP Basic credentials.
type RegisteredWorker struct {
	UUID               string       `json:"uuid"`
	Name               string       `json:"name"`
	Address            string       `json:"address"`
	Status             WorkerStatus `json:"status"`
	Platform           string       `json:"platform"`
	Software           string       `json:"software"`
	SupportedTaskTypes []string     `json:"supported_task_types"`
}

// WorkerSignOn is the body of sign-on: the worker's current metadata.
type WorkerSignOn struct {
	Name               string   `json:"name"`
	SupportedTaskTypes []string `json:"supported_task_types"`
	SoftwareVersion    string   `json:"software_version"`
	CanRestart         bool     `json:"can_restart"`
}

// WorkerStateChange is a status the Manager asks the worker to go to.
type WorkerStateChange struct {
	StatusRequested WorkerStatus `json:"status_requested"`
}

// WorkerStateChanged is the body of state-changed: the status the worker is in now.
type WorkerStateChanged struct {
	Status WorkerStatus `json:"status"`
}

// AssignedTask is a task as the Manager hands it to a worker. Every field is
// required on the wire; the client rejects an answer that lacks one.
type AssignedTask struct {
	UUID           string     `json:"uuid"`
	Job            string     `json:"job"` // the job's UUID
	Name           string     `json:"name"`
	Status         TaskStatus `json:"status"`
	Priority       int        `json:"priority"`
	JobPriority    int        `json:"job_priority"`
	JobType        string     `json:"job_type"`
	TaskType       string     `json:"task_type"`
	Commands       []Command  `json:"commands"`
	StepsCompleted int        `json:"steps_completed"`
	StepsTotal     int        `json:"steps_total"`
}

// Command is one command of an AssignedTask.
//
// Parameters hold plain JSON values as encoding/json decodes them into an
// `any`: string, bool, nil, []any, map[string]any, and float64 for every
// number. float64 is what the plugin protocol's google.protobuf.Struct carries
// anyway, and it is exact for every integer a job uses (frame numbers, counts).
type Command struct {
	Name           string         `json:"name"`
	Parameters     map[string]any `json:"parameters"`
	TotalStepCount int            `json:"total_step_count"` // 0: the command reports no steps
}

// TaskUpdate is the body of a task update. A zero field is not sent, so the
// Manager leaves that property of the task as it is. StepsCompleted is a
// pointer so that 0 can be sent: new(0).
//
// The status field is "taskStatus" in camelCase on the wire, unlike the other
// fields; the Manager ignores a "task_status".
type TaskUpdate struct {
	TaskStatus     TaskStatus `json:"taskStatus,omitempty"`
	Activity       string     `json:"activity,omitempty"` // replaces the task's previous activity
	Log            string     `json:"log,omitempty"`      // appended to the task's log
	StepsCompleted *int       `json:"steps_completed,omitempty"`
}

// MayKeepRunning is the Manager's answer to may-i-run.
type MayKeepRunning struct {
	MayKeepRunning bool   `json:"mayKeepRunning"`
	Reason         string `json:"reason"`
	// StatusChangeRequested means an immediate worker status change is
	// pending; fetch it with State. MayKeepRunning is then false.
	StatusChangeRequested bool `json:"statusChangeRequested"`
}
