// Package config loads cajon.toml: strict TOML in layers (built-in defaults, system,
// user and working-directory files, --config, CAJON_* environment, flags), validated
// after the merge, with the provenance of every effective value.
//
// The loader reads only what its Sources name, so tests can run it without touching
// /etc, HOME or the real environment; DefaultSources computes the real ones.
package config

import (
	"sort"
	"strings"
	"time"

	"github.com/cajonfarm/cajon/host/suggest"
	"github.com/cajonfarm/cajon/sdk/process"
	"github.com/cajonfarm/cajon/sdk/wire"
)

// Config is the effective worker configuration after all layers are merged.
type Config struct {
	// StateDir holds the credentials, the update queue, the local job store and the
	// task logs. Load fills in DefaultStateDir when no layer sets it.
	StateDir string
	// LogLevel is the hclog level: trace, debug, info, warn or error.
	LogLevel string
	// LogFormat is text or json.
	LogFormat string
	// PluginDirs are searched for cajon-plugin-* binaries after the default
	// folders of the cajon binary (plugins.DefaultDirs).
	PluginDirs []string
	// PluginIdleTimeout stops a plugin process that ran no command for this long;
	// 0 keeps plugins running.
	PluginIdleTimeout time.Duration
	// MaxLogBytes caps the log of one task that the Manager receives; 0 = unlimited.
	MaxLogBytes int64
	// KillGrace is the wait between SIGTERM and SIGKILL when a command is aborted.
	KillGrace time.Duration
	// TaskTypes narrows the task types this worker asks for; empty = every task type
	// that the plugins provide.
	TaskTypes []string
	// OOMScoreAdjust is the Linux OOM-killer adjustment (-1000 to 1000) for
	// the processes of commands, so the kernel kills a runaway render before
	// the worker; 0 leaves it alone. Imported from the stock worker's
	// oom_score_adjust. The host gives it to each plugin process, whose
	// commands inherit it.
	OOMScoreAdjust int
	// StallTimeout aborts a command whose output and process-tree CPU time
	// have not moved for this long, and fails its task naming the stall;
	// 0 = never.
	StallTimeout time.Duration
	// MaxTaskMemory caps the resident memory of each command's processes,
	// in bytes: a command over it is killed and its task fails saying so;
	// 0 = no cap. An identity may set its own ([[worker.identities]]).
	MaxTaskMemory int64

	// Manager is the [manager] table.
	Manager ManagerConfig
	// Local is the [local] table.
	Local LocalConfig
	// LogStore is the [log_store] table.
	LogStore LogStoreConfig
	// Metrics is the [metrics] table.
	Metrics MetricsConfig
	// Files is the [files] table.
	Files FilesConfig
	// Worker is the [worker] table: the identities of one process.
	Worker WorkerConfig
	// Workstation is the [workstation] table: take tasks only while nobody
	// uses the machine.
	Workstation WorkstationConfig

	// Plugins holds each [plugins.<name>] table as written, passed to that plugin.
	Plugins map[string]map[string]any
}

// ManagerConfig is the [manager] table: how to work for a Flamenco Manager.
type ManagerConfig struct {
	// URL of the Manager; empty: cajon run finds one on the network (SSDP),
	// and cajon local runs the embedded job queue.
	URL string
	// WorkerName is the name shown in the Manager; empty means the host name,
	// looked up when the worker starts (NameAtStart).
	WorkerName string
	// RestartExitCode is the exit code for the Manager's "restart" state; 0 means
	// the worker refuses to restart.
	RestartExitCode int
	// MayIRunInterval is how often a running task is checked with may-i-run.
	MayIRunInterval time.Duration
	// AsleepPollInterval is how often an asleep worker asks for its state.
	AsleepPollInterval time.Duration
	// FetchBackoffMax caps the wait between task fetches that found no task.
	FetchBackoffMax time.Duration
	// EventStream listens to the Manager's event stream (socket.io) for
	// queued jobs and cancelled tasks; the polls stay the source of truth.
	EventStream bool
	// EventMayIRunInterval replaces MayIRunInterval while the event stream is
	// up: an abort then comes from the stream's event.
	EventMayIRunInterval time.Duration
	// EventFetchBackoffMax replaces FetchBackoffMax while the event stream is
	// up: a queued job then wakes the worker.
	EventFetchBackoffMax time.Duration
	// RequestTimeout bounds one HTTP request to the Manager.
	RequestTimeout time.Duration
	// FinishTaskOnShutdown lets the running task finish on SIGINT/SIGTERM instead
	// of aborting it.
	FinishTaskOnShutdown bool
	// UpdateQueueHighWater stops task fetches while more updates than this wait to
	// be delivered.
	UpdateQueueHighWater int
	// MaxUpdateLogBytes caps the log one task update request carries; a longer
	// log goes in pieces ahead of the status. Well under the 1 MiB request body
	// limit of a default nginx in front of a Manager.
	MaxUpdateLogBytes int
}

// LocalConfig is the [local] table: the embedded job queue.
type LocalConfig struct {
	// Slots is how many local tasks run at the same time.
	Slots int
	// KeepFinished is how long a finished job (completed, failed or canceled)
	// stays in the queue, with its task logs and previews, after its last run
	// ended; 0 keeps finished jobs forever.
	KeepFinished time.Duration
}

// LogStoreConfig is the [log_store] table: the full task logs kept on disk.
type LogStoreConfig struct {
	// MaxTotalBytes caps the size of all stored task logs; 0 = no size cap.
	MaxTotalBytes int64
	// MaxAge removes stored task logs older than this; 0 = no age cap.
	MaxAge time.Duration
}

// MetricsConfig is the [metrics] table: Prometheus metrics and a health check
// over HTTP.
type MetricsConfig struct {
	// Listen is the address ("127.0.0.1:9464") of /metrics and /healthz;
	// empty serves nothing.
	Listen string
	// ManagerAnswerMaxAge: /healthz fails when the Manager's last answer is
	// older than this.
	ManagerAnswerMaxAge time.Duration
	// WebConfigFile is a Prometheus exporter web config file (TLS, basic
	// auth), as node_exporter's --web.config.file; empty = plain HTTP.
	WebConfigFile string
}

// FilesConfig is the [files] table: where file commands may act.
type FilesConfig struct {
	// AllowedRoots are the folders under which the file-management commands may
	// create, move and copy; empty = the default of the mode (cajon run: the
	// Manager's shared storage and the temp folder; cajon local: anywhere).
	AllowedRoots []string
}

// WorkstationConfig is the [workstation] table: on an artist's desktop, the
// worker takes tasks only while nobody uses the machine. It is on when
// X11Displays, Logind or SessionDir names something to watch.
type WorkstationConfig struct {
	// X11Displays are the X displays (":0") whose input is watched through
	// their MIT-SCREEN-SAVER extension.
	X11Displays []string
	// Logind watches systemd-logind's idle hint over the system D-Bus.
	Logind bool
	// SessionDir is the folder where `cajon idle-helper`, started in each
	// user's desktop session (Windows), reports the session's last input.
	SessionDir string
	// IdleBeforeWork is how long without input before the worker takes tasks.
	IdleBeforeWork time.Duration
	// OnActivity is what happens to a running task when a person comes
	// back: OnActivityFinish or OnActivityRequeue.
	OnActivity string
	// PollInterval is how often the detectors are asked for the idle time.
	PollInterval time.Duration
}

// The values of workstation.on_activity.
const (
	// OnActivityFinish lets the running task end, then takes no new one.
	OnActivityFinish = "finish"
	// OnActivityRequeue aborts the running task at once and hands it back.
	OnActivityRequeue = "requeue"
)

// Enabled reports whether anything is watched.
func (w WorkstationConfig) Enabled() bool {
	return len(w.X11Displays) > 0 || w.Logind || w.SessionDir != ""
}

// Defaults returns the built-in defaults, the lowest layer. StateDir is empty
// here: Load computes it when no layer sets it. Manager.WorkerName stays empty
// unless a layer sets it (see ManagerConfig.NameAtStart).
func Defaults() Config {
	return Config{
		LogLevel:          "info",
		LogFormat:         "text",
		PluginDirs:        []string{},
		PluginIdleTimeout: 5 * time.Minute,
		MaxLogBytes:       8 << 20,
		KillGrace:         process.DefaultGrace, // the plugins' default too
		TaskTypes:         []string{},
		Manager: ManagerConfig{
			// Without the event stream too, the stock worker's rate: the
			// Manager's cost per busy worker stays the stock worker's
			// (docs/MANAGER.md, "What the worker costs the Manager").
			MayIRunInterval:      10 * time.Second,
			AsleepPollInterval:   5 * time.Second,
			FetchBackoffMax:      20 * time.Second,
			EventStream:          true,
			EventMayIRunInterval: 10 * time.Second, // the stock worker's
			EventFetchBackoffMax: 45 * time.Second,
			RequestTimeout:       30 * time.Second,
			UpdateQueueHighWater: 1000,
			MaxUpdateLogBytes:    256 << 10,
		},
		Local:    LocalConfig{Slots: 1, KeepFinished: 720 * time.Hour},
		LogStore: LogStoreConfig{MaxTotalBytes: 1 << 30, MaxAge: 720 * time.Hour},
		Metrics:  MetricsConfig{ManagerAnswerMaxAge: time.Minute},
		Files:    FilesConfig{AllowedRoots: []string{}},
		Worker:   WorkerConfig{Identities: []IdentityConfig{}},
		Workstation: WorkstationConfig{X11Displays: []string{}, IdleBeforeWork: 10 * time.Minute,
			OnActivity: OnActivityFinish, PollInterval: 2 * time.Second},
		Plugins: map[string]map[string]any{},
	}
}

// setting ties one config key to its field. field returns a pointer to the field:
// *string, *int, *int64, *bool, *[]string or *time.Duration; that type decides how
// environment and flag values are parsed and how the value is printed.
type setting struct {
	key   string
	field func(*Config) any
}

// settings lists every key except the free-form [plugins.<name>] tables, in the
// order `cajon config` prints them (top-level keys first, then each table).
func settings() []setting {
	return []setting{
		{"state_dir", func(c *Config) any { return &c.StateDir }},
		{"log_level", func(c *Config) any { return &c.LogLevel }},
		{"log_format", func(c *Config) any { return &c.LogFormat }},
		{"plugin_dirs", func(c *Config) any { return &c.PluginDirs }},
		{"plugin_idle_timeout", func(c *Config) any { return &c.PluginIdleTimeout }},
		{"max_log_bytes", func(c *Config) any { return &c.MaxLogBytes }},
		{"kill_grace", func(c *Config) any { return &c.KillGrace }},
		{"task_types", func(c *Config) any { return &c.TaskTypes }},
		{"oom_score_adjust", func(c *Config) any { return &c.OOMScoreAdjust }},
		{"stall_timeout", func(c *Config) any { return &c.StallTimeout }},
		{"max_task_memory", func(c *Config) any { return &c.MaxTaskMemory }},
		{"manager.url", func(c *Config) any { return &c.Manager.URL }},
		{"manager.worker_name", func(c *Config) any { return &c.Manager.WorkerName }},
		{"manager.restart_exit_code", func(c *Config) any { return &c.Manager.RestartExitCode }},
		{"manager.may_i_run_interval", func(c *Config) any { return &c.Manager.MayIRunInterval }},
		{"manager.asleep_poll_interval", func(c *Config) any { return &c.Manager.AsleepPollInterval }},
		{"manager.fetch_backoff_max", func(c *Config) any { return &c.Manager.FetchBackoffMax }},
		{"manager.event_stream", func(c *Config) any { return &c.Manager.EventStream }},
		{"manager.event_may_i_run_interval", func(c *Config) any { return &c.Manager.EventMayIRunInterval }},
		{"manager.event_fetch_backoff_max", func(c *Config) any { return &c.Manager.EventFetchBackoffMax }},
		{"manager.request_timeout", func(c *Config) any { return &c.Manager.RequestTimeout }},
		{"manager.finish_task_on_shutdown", func(c *Config) any { return &c.Manager.FinishTaskOnShutdown }},
		{"manager.update_queue_high_water", func(c *Config) any { return &c.Manager.UpdateQueueHighWater }},
		{"manager.max_update_log_bytes", func(c *Config) any { return &c.Manager.MaxUpdateLogBytes }},
		{"local.slots", func(c *Config) any { return &c.Local.Slots }},
		{"local.keep_finished", func(c *Config) any { return &c.Local.KeepFinished }},
		{"log_store.max_total_bytes", func(c *Config) any { return &c.LogStore.MaxTotalBytes }},
		{"log_store.max_age", func(c *Config) any { return &c.LogStore.MaxAge }},
		{"metrics.listen", func(c *Config) any { return &c.Metrics.Listen }},
		{"metrics.manager_answer_max_age", func(c *Config) any { return &c.Metrics.ManagerAnswerMaxAge }},
		{"metrics.web_config_file", func(c *Config) any { return &c.Metrics.WebConfigFile }},
		{"files.allowed_roots", func(c *Config) any { return &c.Files.AllowedRoots }},
		{"workstation.x11_displays", func(c *Config) any { return &c.Workstation.X11Displays }},
		{"workstation.logind", func(c *Config) any { return &c.Workstation.Logind }},
		{"workstation.session_dir", func(c *Config) any { return &c.Workstation.SessionDir }},
		{"workstation.idle_before_work", func(c *Config) any { return &c.Workstation.IdleBeforeWork }},
		{"workstation.on_activity", func(c *Config) any { return &c.Workstation.OnActivity }},
		{"workstation.poll_interval", func(c *Config) any { return &c.Workstation.PollInterval }},
	}
}

// lookupSetting finds the setting of a key, or reports false.
func lookupSetting(key string) (setting, bool) {
	for _, s := range settings() {
		if s.key == key {
			return s, true
		}
	}
	return setting{}, false
}

// Keys returns every config key (dotted path, e.g. "manager.url") except the
// free-form plugin tables, in print order.
func Keys() []string {
	all := settings()
	keys := make([]string, len(all))
	for i, s := range all {
		keys[i] = s.key
	}
	return keys
}

// EnvVar returns the environment variable that sets a key: CAJON_ and the upper-case
// key with dots replaced by underscores ("manager.url" -> "CAJON_MANAGER_URL").
func EnvVar(key string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// envPrefix starts every environment variable cajon reads.
const envPrefix = "CAJON_"

// isInternalEnvVar reports the CAJON_* variables that the host sets for plugins and
// commands: they are not settings, so they are ignored without a warning.
func isInternalEnvVar(name string) bool {
	switch name {
	case "CAJON_RUN_ID", "CAJON_LIFELINE_FD", "CAJON_LIFELINE_HANDLE", "CAJON_PLUGIN", "CAJON_HOST_DIR", wire.EnvCyclesDevice:
		return true
	}
	return false
}

// expectedType describes, for an error message, what a key's value must be.
func expectedType(key string) string {
	switch {
	case key == "plugins":
		return "a table of plugin tables ([plugins.<name>])"
	case strings.HasPrefix(key, "plugins.") && strings.Count(key, ".") == 1:
		return "a table ([" + key + "])"
	case key == identitiesKey:
		return "an array of tables ([[worker.identities]])"
	case key == identitiesKey+".name":
		return "a string"
	case key == identitiesKey+".env":
		return `a table of strings, e.g. env = { CUDA_VISIBLE_DEVICES = "1" }`
	case key == identitiesKey+".task_types":
		return "a list of strings"
	case key == identitiesKey+".cycles_device":
		return `a string, e.g. cycles_device = "OPTIX"`
	case key == identitiesKey+".max_task_memory":
		return "an integer"
	case key == "manager" || key == "local" || key == "log_store" || key == "metrics" || key == "files" || key == "worker" || key == "workstation":
		return "a table ([" + key + "])"
	}
	s, ok := lookupSetting(key)
	if !ok {
		return ""
	}
	var c Config
	switch s.field(&c).(type) {
	case *string:
		return "a string"
	case *int, *int64:
		return "an integer"
	case *bool:
		return "a boolean (true or false)"
	case *[]string:
		return "a list of strings"
	case *time.Duration:
		return `a duration string such as "10s", "5m" or "1h30m"`
	}
	return ""
}

// closestKey suggests the known name nearest to a mistyped one, or "" when none is
// near enough to be a likely typo. A known key that ends in the name is also a
// match: "slots" at the top level was meant for "local.slots".
func closestKey(name string, known []string) string {
	if best := suggest.Closest(name, known); best != "" {
		return best
	}
	for _, k := range known {
		if strings.HasSuffix(k, "."+name) {
			return k
		}
	}
	return ""
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
