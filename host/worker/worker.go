// Package worker is the Flamenco 3 worker lifecycle: it registers with a
// Manager when it has no credentials, signs on, and then moves between the
// states the Manager asks for: awake (the fetch loop, running one task at a
// time), asleep (polling for a new state), offline and restart (leaving with
// an exit code). Every state change is acknowledged to the Manager.
//
// A running task's progress, log and status go through the durable update
// queue (host/updates), never straight to the Manager, so an outage or a
// crash of the worker loses no update. While a task runs the worker asks the
// Manager every may_i_run_interval whether it may go on; a "no" aborts the
// task (its whole process tree is killed by the plugin) without reporting it
// failed: it is no longer this worker's task.
//
// One file per state: state_signon.go, state_awake.go, state_asleep.go,
// state_leave.go (offline, restart and shutdown); state_change.go maps a
// requested status to a state.
package worker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/cajonfarm/cajon/host/backoff"

	"github.com/cajonfarm/cajon/host/config"
	"github.com/cajonfarm/cajon/host/flamenco"
	"github.com/cajonfarm/cajon/host/logstore"
	"github.com/cajonfarm/cajon/host/managerevents"
	"github.com/cajonfarm/cajon/host/task"
	"github.com/cajonfarm/cajon/host/updates"
	"github.com/hashicorp/go-hclog"
)

// Plugins tells the worker what the plugins offer and what runs now;
// *plugins.Registry is one.
type Plugins interface {
	// TaskTypes are the task types the plugins' commands declare: what the
	// worker asks for when task_types is not configured.
	TaskTypes() []string
	// Running describes the plugin processes alive now.
	Running() []string
}

// Options configure a Worker.
type Options struct {
	// Config is the effective configuration. The worker uses the [manager]
	// table, state_dir, max_log_bytes, task_types and [log_store].
	Config *config.Config
	// Runner runs the tasks.
	Runner task.Executor
	// Plugins provide the task types to ask the Manager for.
	Plugins Plugins
	// Logger receives the worker's messages; nil logs nothing.
	Logger hclog.Logger
	// HTTPClient sends the requests to the Manager; nil means the Flamenco
	// client's own.
	HTTPClient *http.Client
	// Timings tune the worker's internal delays; zero fields take defaults.
	Timings Timings
	// Observer, when not nil, watches the worker's Manager requests and
	// update queue (metrics, health).
	Observer Observer
	// Workstation, when not nil, keeps the worker from taking tasks while a
	// person uses the machine ([workstation]; see stateInUse).
	Workstation Workstation
}

// Timings are the worker's internal delays that the config does not set.
// Tests and benchmarks shorten them; a zero field means its default.
type Timings struct {
	// FetchBackoffMin is the first wait after a fetch found no task or
	// failed (default 500 ms); it doubles up to manager.fetch_backoff_max.
	FetchBackoffMin time.Duration
	// RetryMin and RetryMax bound the backoff of registration, sign-on and
	// state acknowledgements (default 1 s and 30 s).
	RetryMin, RetryMax time.Duration
	// LogBatch is how long log lines and progress are collected before they
	// are queued as one update (default 250 ms).
	LogBatch time.Duration
	// LogBatchBytes queues a batch at once when its log reaches this size
	// (default 64 KiB).
	LogBatchBytes int
	// UpdatesMinBackoff and UpdatesMaxBackoff bound the update queue's
	// retries (default 250 ms and 5 s: a short cap, so that the backlog of an
	// outage goes out soon after the Manager is back).
	UpdatesMinBackoff, UpdatesMaxBackoff time.Duration
	// ShutdownDelivery bounds how long a leaving worker tries to deliver its
	// queued updates before it signs off (default 10 s).
	ShutdownDelivery time.Duration
	// SignOffTimeout bounds the sign-off and the last state acknowledgement
	// when leaving (default 5 s).
	SignOffTimeout time.Duration
	// PreviewBackoffMax caps the wait after the Manager answered 429 to a
	// preview image (default 10 s).
	PreviewBackoffMax time.Duration
	// Events tune the event stream's reconnects and pings (its own defaults).
	Events managerevents.Timings
}

func (t Timings) withDefaults() Timings {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&t.FetchBackoffMin, 500*time.Millisecond)
	def(&t.RetryMin, time.Second)
	def(&t.RetryMax, 30*time.Second)
	def(&t.LogBatch, 250*time.Millisecond)
	def(&t.UpdatesMinBackoff, 250*time.Millisecond)
	def(&t.UpdatesMaxBackoff, 5*time.Second)
	def(&t.ShutdownDelivery, 10*time.Second)
	def(&t.SignOffTimeout, 5*time.Second)
	def(&t.PreviewBackoffMax, 10*time.Second)
	if t.LogBatchBytes <= 0 {
		t.LogBatchBytes = 64 << 10
	}
	t.RetryMax = max(t.RetryMax, t.RetryMin)
	return t
}

// Files in the state directory.
const (
	credentialsFile = "flamenco-credentials.json"
	queueFile       = "task-updates.sqlite"
	logDir          = "task-logs"
)

// CredentialsPath is where the worker keeps its credentials.
func CredentialsPath(stateDir string) string { return filepath.Join(stateDir, credentialsFile) }

// QueuePath is the worker's durable task-update queue.
func QueuePath(stateDir string) string { return filepath.Join(stateDir, queueFile) }

// LogDir is the folder of the full task logs (a host/logstore store).
func LogDir(stateDir string) string { return filepath.Join(stateDir, logDir) }

// State names, as Status reports them.
const (
	StateStarting    = "starting"
	StateSigningOn   = "signing on"
	StateAwake       = "awake"
	StateAsleep      = "asleep"
	StateLeaving     = "leaving"
	StateRegistering = "registering"
)

// Worker works for one Manager. Create it with New; Run it once.
type Worker struct {
	cfg       *config.Config
	mc        config.ManagerConfig
	runner    task.Executor
	plugins   Plugins
	log       hclog.Logger
	tm        Timings
	base      *flamenco.Client // without credentials: registration only
	taskTypes []string
	obs       Observer    // nil: nobody watches
	ws        Workstation // nil: no workstation mode
	events    eventStream // nil: manager.event_stream is off

	// Set by Run (queue under mu) before any state runs; read-only afterwards.
	queue    *updates.Queue
	logs     *logstore.Store
	fullLogs *fullLogs

	// Used by the state goroutine only.
	settle   bool            // the next fetch waits for the queue to be empty
	ignored  string          // a requested status already answered by sleeping
	rejoin   backoff.Backoff // slows down repeated sign-ons
	leaving  bool            // a leave state ran
	exit     int             // the exit code Run returns
	signedOn bool            // signed on at least once: sign off when leaving
	// cutOff: the shutdown cut a sign-on request off before its answer, so
	// the Manager may count the worker as signed on: sign off when leaving.
	cutOff bool

	mu    sync.Mutex
	api   *flamenco.Client // with credentials; nil before registration
	creds Credentials
	state string
	cur   *runningTask
}

// New checks opts and returns a Worker. The Manager URL must be set.
func New(opts Options) (*Worker, error) {
	if opts.Config == nil {
		return nil, errors.New("worker: no configuration given")
	}
	if opts.Runner == nil || opts.Plugins == nil {
		return nil, errors.New("worker: a task runner and the plugins are required")
	}
	mc := opts.Config.Manager
	if mc.URL == "" {
		return nil, errors.New("worker: no Manager URL: set manager.url in cajon.toml, CAJON_MANAGER_URL or --manager")
	}
	name, err := mc.NameAtStart()
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	mc.WorkerName = name
	log := opts.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	base, err := flamenco.New(flamenco.Config{BaseURL: mc.URL, Timeout: mc.RequestTimeout, HTTPClient: opts.HTTPClient,
		Observer: opts.Observer})
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	tm := opts.Timings.withDefaults()
	w := &Worker{
		cfg:     opts.Config,
		mc:      mc,
		runner:  opts.Runner,
		plugins: opts.Plugins,
		log:     log,
		tm:      tm,
		base:    base,
		rejoin:  backoff.Backoff{Min: tm.RetryMin, Max: tm.RetryMax, Jitter: 0.2},
		state:   StateStarting,
		obs:     opts.Observer,
		ws:      opts.Workstation,
	}
	if err := w.openEventStream(opts); err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	var labels []string
	w.taskTypes, labels = taskTypesToAsk(opts.Plugins.TaskTypes(), opts.Config.TaskTypes)
	if len(labels) > 0 {
		// As the stock worker does: a task type is a routing label of the
		// farm (e.g. blender-gpu); its commands run on whichever plugin
		// provides them.
		log.Info("asking for task types that no plugin declares; their commands run on the plugins that provide them",
			"task_types", labels, "declared_by_plugins", opts.Plugins.TaskTypes())
	}
	if len(w.taskTypes) == 0 {
		log.Warn("the worker supports no task type: the Manager will give it no task; check the plugins and task_types")
	}
	return w, nil
}

// taskTypesToAsk is the configured task types when any are configured (each
// one is asked for, whether a plugin declares it or not: task types are
// routing labels), else the plugins' task types. labels lists the configured
// types that no plugin declares.
func taskTypesToAsk(provided, configured []string) (types, labels []string) {
	if len(configured) == 0 {
		types = slices.Clone(provided)
	} else {
		types = slices.Clone(configured)
		for _, t := range configured {
			if !slices.Contains(provided, t) && !slices.Contains(labels, t) {
				labels = append(labels, t)
			}
		}
	}
	slices.Sort(types)
	return slices.Compact(types), labels
}

// TaskTypes returns the task types the worker asks the Manager for.
func (w *Worker) TaskTypes() []string { return slices.Clone(w.taskTypes) }

// stateFunc is one state of the worker: it runs until the worker must change
// state and returns the next one, or nil when the worker is done.
type stateFunc func(ctx context.Context) stateFunc

// Run works for the Manager until it asks the worker to go offline or to
// restart, or until ctx ends (SIGINT/SIGTERM/SIGHUP: a clean shutdown; a
// cause of ctx, such as the signal, is logged as the reason). It returns
// the process exit code: 0 for offline and shutdown, restart_exit_code for a
// restart. An error means the worker could not start (unusable state
// directory); every problem with the Manager is retried instead.
func (w *Worker) Run(ctx context.Context) (int, error) {
	if err := w.open(ctx); err != nil {
		return 1, err
	}
	defer w.close()

	// The sender outlives ctx: a shutdown still delivers the queue.
	sendCtx, stopSending := context.WithCancel(context.WithoutCancel(ctx))
	sending := make(chan struct{})
	go func() {
		defer close(sending)
		_ = w.queue.Run(sendCtx, sender{w})
	}()
	defer func() { stopSending(); <-sending }()

	stopStatus := w.watchStatusSignal()
	defer stopStatus()
	stopEvents := w.runEventStream(ctx)
	defer stopEvents()

	if n := w.queue.Pending(); n > 0 {
		// Updates of an earlier run: the Manager must have them before the
		// next fetch, or it hands out a task that is already done again.
		w.log.Info("task updates from an earlier run are queued; they are delivered before the first fetch", "queued", n)
		w.settle = true
	}
	st := w.stateSignOn
	for st != nil {
		st = st(ctx)
		if ctx.Err() != nil && !w.leaving {
			st = w.stateShutdown
		}
	}
	return w.exit, nil
}

// open loads the credentials and opens the update queue and the log store.
func (w *Worker) open(ctx context.Context) error {
	if err := PrepareStateDir(w.cfg.StateDir, w.log); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	logs, err := logstore.Open(LogDir(w.cfg.StateDir), logstore.Limits{
		MaxTotalBytes: w.cfg.LogStore.MaxTotalBytes, MaxAge: w.cfg.LogStore.MaxAge,
	})
	if err != nil {
		// The full log is a convenience; tasks run without it.
		w.log.Warn("full task logs are not kept on disk", "error", err)
		w.fullLogs = newFullLogs("")
	} else {
		w.logs = logs
		w.fullLogs = newFullLogs(logs.Dir())
	}
	creds, err := LoadCredentials(CredentialsPath(w.cfg.StateDir))
	switch {
	case err == nil:
		w.setCredentials(creds)
	case errors.Is(err, ErrNoCredentials):
		w.log.Info("no credentials yet: the worker registers with the Manager", "file", CredentialsPath(w.cfg.StateDir))
	default:
		// A damaged file must not stop the worker: registering again costs one
		// stale worker entry in the Manager.
		w.log.Warn("credentials unreadable: the worker registers again", "error", err)
	}
	q, err := updates.Open(ctx, updates.Options{
		Path:       QueuePath(w.cfg.StateDir),
		Logger:     w.log.Named("updates"),
		OnTaskGone: w.taskGone,
		MinBackoff: w.tm.UpdatesMinBackoff,
		MaxBackoff: w.tm.UpdatesMaxBackoff,
		Observer:   w.obs,

		MaxRequestLogBytes: w.mc.MaxUpdateLogBytes,
		FullLog:            w.fullLogs.where,
	})
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	w.mu.Lock()
	w.queue = q
	w.mu.Unlock()
	return nil
}

func (w *Worker) close() {
	if err := w.queue.Close(); err != nil {
		w.log.Warn("closing the update queue", "error", err)
	}
}

// client returns the Manager client with the current credentials.
func (w *Worker) client() *flamenco.Client {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.api == nil {
		return w.base
	}
	return w.api
}

func (w *Worker) setCredentials(c Credentials) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.creds = c
	w.api = w.base.WithCredentials(c.WorkerID, c.Secret)
	if w.events != nil {
		w.events.SetWorker(c.WorkerID)
	}
}

func (w *Worker) hasCredentials() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.api != nil
}

func (w *Worker) setState(s string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.state = s
}

// Status is a snapshot of what the worker does, for SIGUSR1 and tests.
type Status struct {
	State    string // StateAwake, StateAsleep, ...
	WorkerID string // "" before registration
	// TaskID and TaskName are the running task, "" when none runs.
	TaskID, TaskName string
	TaskSince        time.Time
	// TaskProcesses are the pids the task's commands reported as started
	// and not yet exited.
	TaskProcesses []int
	// Plugins describes the plugin processes alive.
	Plugins []string
	// QueuedUpdates is the number of task updates not yet delivered.
	QueuedUpdates int
}

// Status returns what the worker does now.
func (w *Worker) Status() Status {
	w.mu.Lock()
	s := Status{State: w.state, WorkerID: w.creds.WorkerID}
	cur, queue := w.cur, w.queue
	w.mu.Unlock()
	if cur != nil {
		s.TaskID, s.TaskName, s.TaskSince = cur.id, cur.name, cur.since
		s.TaskProcesses = cur.rep.processes()
	}
	s.Plugins = w.plugins.Running()
	if queue != nil {
		s.QueuedUpdates = queue.Pending()
	}
	return s
}

// logStatus writes Status to the log (SIGUSR1).
func (w *Worker) logStatus() {
	s := w.Status()
	args := []any{"state", s.State, "worker_id", s.WorkerID, "queued_updates", s.QueuedUpdates, "plugins", s.Plugins}
	if s.TaskID != "" {
		args = append(args, "task", s.TaskID, "task_name", s.TaskName,
			"task_running_for", time.Since(s.TaskSince).Round(time.Second), "task_processes", s.TaskProcesses)
	} else {
		args = append(args, "task", "none")
	}
	if why := w.NotWorkingBecause(); why != "" {
		args = append(args, "not_working_because", why)
	}
	w.log.Info("status", args...)
}

// sleep waits d or until ctx ends; it reports whether the full wait passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
