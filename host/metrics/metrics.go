// Package metrics shows what a Cajon host does as Prometheus metrics
// (/metrics) and whether it is healthy (/healthz), over HTTP.
//
// It watches the other packages through the observer interfaces they define
// (plugins.Observer, worker.Observer) and by wrapping the task runner, so a
// host without metrics pays nothing: no observer, no wrapper. Every metric
// lives in the registry of one Metrics value; nothing is registered globally.
package metrics

import (
	"sync"
	"time"

	"github.com/cajonfarm/cajon/host/plugins"
	"github.com/cajonfarm/cajon/host/version"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics holds the metrics of one host process: the plugin registry it
// shares, and one Worker per worker identity (or the local queue).
// *Metrics is a plugins.Observer. Create it with New.
type Metrics struct {
	reg *prometheus.Registry
	now func() time.Time

	tasks           *prometheus.CounterVec
	taskSeconds     *prometheus.HistogramVec
	commandSeconds  *prometheus.HistogramVec
	abortSeconds    *prometheus.HistogramVec
	commandWarnings *prometheus.CounterVec
	commandMemory   *prometheus.HistogramVec
	commandGuarded  *prometheus.CounterVec
	managerRequests *prometheus.CounterVec
	managerErrors   *prometheus.CounterVec
	pluginStarts    *prometheus.CounterVec
	pluginCrashes   *prometheus.CounterVec
	pluginRestarts  *prometheus.CounterVec
	logProduced     *prometheus.CounterVec
	logSent         *prometheus.CounterVec
	streamEvents    *prometheus.CounterVec
	streamConnects  *prometheus.CounterVec
	pickups         *prometheus.CounterVec
	managerAborts   *prometheus.CounterVec
	deviceInfo      *prometheus.GaugeVec

	mu      sync.Mutex
	workers []*Worker
}

// taskBuckets are the task and command duration buckets in seconds: from
// a file copy to a night-long render.
func taskBuckets() []float64 {
	return []float64{0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800}
}

// abortBuckets are the abort latency buckets in seconds: an abort should
// take well under a second; the grace period (10 s by default) is the
// normal worst case.
func abortBuckets() []float64 {
	return []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30}
}

// memoryBuckets are the peak memory buckets in bytes: 64 MiB to 256 GiB,
// doubling.
func memoryBuckets() []float64 {
	return prometheus.ExponentialBuckets(64<<20, 2, 13)
}

// New returns a Metrics with its own registry, which also holds the Go
// runtime and process metrics (go_*, process_*).
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), now: time.Now}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
		m.reg.MustRegister(c)
		return c
	}
	histogram := func(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
		h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
		m.reg.MustRegister(h)
		return h
	}
	m.tasks = counter("cajon_tasks_total",
		"Tasks that ended, by worker, task type and outcome (completed, failed, canceled).",
		"worker", "task_type", "outcome")
	m.taskSeconds = histogram("cajon_task_duration_seconds",
		"How long tasks ran, by worker, task type and outcome.", taskBuckets(),
		"worker", "task_type", "outcome")
	m.commandSeconds = histogram("cajon_command_duration_seconds",
		"How long commands ran in their plugins, by command and outcome.", taskBuckets(),
		"command", "outcome")
	m.abortSeconds = histogram("cajon_abort_latency_seconds",
		"From the abort of a running command to its confirmed end with its whole process tree gone, by command.",
		abortBuckets(), "command")
	m.commandWarnings = counter("cajon_command_warnings_total",
		"Warnings commands ended with: problems that did not fail them (e.g. Blender reported an error but saved every frame), by command.",
		"command")
	m.commandMemory = histogram("cajon_command_peak_memory_bytes",
		"Peak resident memory of a command's processes (their RSS summed, sampled), by command.", memoryBuckets(),
		"command")
	m.commandGuarded = counter("cajon_command_guard_failures_total",
		"Commands the node guard failed, by command and cause: oom_killer (the kernel's OOM killer struck while it ran), max_task_memory (over the cap, killed), stall (no output and no CPU for stall_timeout, aborted).",
		"command", "cause")
	m.managerRequests = counter("cajon_manager_requests_total",
		"Requests to the Flamenco Manager, by worker and endpoint.", "worker", "endpoint")
	m.managerErrors = counter("cajon_manager_request_errors_total",
		"Failed requests to the Flamenco Manager, by worker, endpoint and code: the HTTP status, or network when no answer came.",
		"worker", "endpoint", "code")
	m.pluginStarts = counter("cajon_plugin_starts_total", "Plugin processes started, restarts included.", "plugin")
	m.pluginCrashes = counter("cajon_plugin_crashes_total",
		"Plugin processes that exited or stopped answering without being asked to.", "plugin")
	m.pluginRestarts = counter("cajon_plugin_restarts_total",
		"Plugin processes started after the previous one crashed or was killed.", "plugin")
	m.logProduced = counter("cajon_log_produced_bytes_total",
		"Bytes of task log the commands produced (a newline per line counted), by worker.", "worker")
	m.logSent = counter("cajon_log_sent_bytes_total",
		"Bytes of task log the Manager accepted, by worker (after the max_log_bytes limit).", "worker")
	m.streamEvents = counter("cajon_manager_events_total",
		"Events received on the Manager's event stream (socket.io), by worker and event name (/jobs, /task, ...).",
		"worker", "event")
	m.streamConnects = counter("cajon_manager_event_stream_connects_total",
		"Times the Manager's event stream came up (subscribed), by worker; first is 1 at most, the rest are reconnects.",
		"worker", "kind")
	m.pickups = counter("cajon_task_pickups_total",
		"Tasks fetched to run, by worker and what brought the fetch: stream (an event of the Manager) or poll (the idle wait ran out).",
		"worker", "source")
	m.managerAborts = counter("cajon_manager_aborts_total",
		"Tasks aborted because may-i-run said no, by worker and what brought that request: stream (an event) or poll (its period).",
		"worker", "source")

	m.deviceInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "cajon_worker_device_info", Help: deviceInfoHelp},
		[]string{"worker", "gpu", "cycles_device"})
	m.reg.MustRegister(m.deviceInfo)

	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "cajon_build_info", Help: "Always 1; the version label is the running cajon's.",
		ConstLabels: prometheus.Labels{"version": version.Version},
	})
	build.Set(1)
	m.reg.MustRegister(build, newWorkerGauges(m),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is where the metrics live, for tests and for adding collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// PluginStarted implements plugins.Observer.
func (m *Metrics) PluginStarted(plugin string, restart bool) {
	m.pluginStarts.WithLabelValues(plugin).Inc()
	if restart {
		m.pluginRestarts.WithLabelValues(plugin).Inc()
	}
}

// PluginCrashed implements plugins.Observer.
func (m *Metrics) PluginCrashed(plugin string) { m.pluginCrashes.WithLabelValues(plugin).Inc() }

// CommandEnded implements plugins.Observer.
func (m *Metrics) CommandEnded(command string, status plugins.Status, took time.Duration) {
	m.commandSeconds.WithLabelValues(command, status.String()).Observe(took.Seconds())
}

// CommandAborted implements plugins.Observer.
func (m *Metrics) CommandAborted(command string, took time.Duration) {
	m.abortSeconds.WithLabelValues(command).Observe(took.Seconds())
}

// CommandMemory implements plugins.Observer.
func (m *Metrics) CommandMemory(command string, peak int64) {
	m.commandMemory.WithLabelValues(command).Observe(float64(peak))
}

// CommandGuarded implements plugins.Observer.
func (m *Metrics) CommandGuarded(command, by string) {
	m.commandGuarded.WithLabelValues(command, by).Inc()
}

// CommandWarned implements plugins.Observer.
func (m *Metrics) CommandWarned(command string, n int) {
	m.commandWarnings.WithLabelValues(command).Add(float64(n))
}
