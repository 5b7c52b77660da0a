package plugins

import (
	"context"
	"time"
)

// Observer is told about plugin processes and commands, for metrics
// (host/metrics). Its methods are called from the goroutines that start
// plugins and run commands, so they must return quickly.
type Observer interface {
	// PluginStarted reports a new plugin process. restart is true when the
	// plugin's previous process crashed or was killed.
	PluginStarted(plugin string, restart bool)
	// PluginCrashed reports a plugin process that exited or stopped
	// answering without being asked to stop.
	PluginCrashed(plugin string)
	// CommandEnded reports a command that ended with status after took.
	CommandEnded(command string, status Status, took time.Duration)
	// CommandAborted reports how long an aborted command took from the
	// abort (the end of Run's context) to its confirmed end, process tree
	// gone.
	CommandAborted(command string, took time.Duration)
	// CommandWarned reports the warnings a command ended with (problems
	// that did not fail it, plugin.proto Result.warnings); n > 0.
	CommandWarned(command string, n int)
	// CommandMemory reports the peak resident memory of a command's
	// processes, in bytes, where the host could measure it.
	CommandMemory(command string, peak int64)
	// CommandGuarded reports a command that the node guard failed: by is
	// "stall" (stall_timeout), "max_task_memory" (the cap) or "oom_killer"
	// (the kernel killed a process while it ran).
	CommandGuarded(command string, by string)
}

// observedRun is Run with the command timed for the observer.
func (r *Registry) observedRun(ctx context.Context, req Request, events Events) Result {
	start := time.Now()
	var abortedAt time.Time
	res := r.run(ctx, req, events, &abortedAt)
	end := time.Now()
	r.opts.Observer.CommandEnded(req.Command, res.Status, end.Sub(start))
	if !abortedAt.IsZero() && res.Status == Canceled {
		r.opts.Observer.CommandAborted(req.Command, end.Sub(abortedAt))
	}
	if n := len(res.Warnings); n > 0 {
		r.opts.Observer.CommandWarned(req.Command, n)
	}
	return res
}

func (r *Registry) started(plugin string, restart bool) {
	if r.opts.Observer != nil {
		r.opts.Observer.PluginStarted(plugin, restart)
	}
}

func (r *Registry) crashed(plugin string) {
	if r.opts.Observer != nil {
		r.opts.Observer.PluginCrashed(plugin)
	}
}
