package plugins

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/cajonfarm/cajon/sdk/process"
	"github.com/cajonfarm/cajon/sdk/proctree"
	pluginv1 "github.com/cajonfarm/cajon/sdk/proto/cajon/plugin/v1"
	"github.com/cajonfarm/cajon/sdk/wire"
	"google.golang.org/protobuf/types/known/structpb"
)

// Abort timing. After the host's Cancel, in this order:
//
//  1. the plugin sends SIGTERM to the command's tree and waits its grace;
//  2. it kills what is left, sweeping for at most proctree.KillTimeout;
//  3. it reads the command's last output and sends its canceled Result:
//     sdk/process waits at most 1 s for a leader that survived SIGKILL and
//     2 s for the output (default drain), and the Result crosses gRPC.
//
// The host waits grace + stopMargin for that Result, stopMargin being
// proctree.KillTimeout + abortSlack with abortSlack longer than step 3, so a
// plugin that keeps to the protocol always reports its own canceled before
// the host would kill it (TestAbortTimingOrder).
const (
	abortSlack = 5 * time.Second
	stopMargin = proctree.KillTimeout + abortSlack
)

// cancelCallTimeout bounds the Cancel call itself, which only starts the
// abort: a plugin that does not answer it is killed at once.
const cancelCallTimeout = 5 * time.Second

// Request is one command to run.
type Request struct {
	JobID, TaskID string
	// RunID must be unique per execution: it tags the command's processes.
	RunID   string
	Command string
	Params  map[string]any
	Env     map[string]string
	WorkDir string
	// Grace is the time between SIGTERM and SIGKILL on abort (0 = SDK default).
	Grace time.Duration
	// TotalSteps is the task's step count for this command (a Manager's
	// total_step_count; 0 = none), passed on to the plugin.
	TotalSteps int
	// Guard is what the host watches in the command: stalls and memory.
	Guard Guard
}

// A run's events and result are the wire contract's Go types (sdk/wire),
// re-exported so that host/task needs only this package: the host and
// sdktest read a plugin's stream through one decoder, wire.Deliver, and no
// generated protobuf type passes this package's boundary.
type (
	// Status is how a command ended: Completed, Failed or Canceled.
	Status = wire.Status
	// Result is how a command ended and why.
	Result = wire.Result
	// Events receives a running command's events in order: log batches,
	// progress, outputs and child processes (the final result is Run's
	// return value, not an event). It is called from Run's goroutine; nil
	// drops them.
	Events = wire.Events
	// Progress is one progress update of a command.
	Progress = wire.Progress
	// Output is a file a command produced.
	Output = wire.Output
	// ChildProcess is a process a command started, or its end.
	ChildProcess = wire.ChildProcess
)

// The ways a command ends.
const (
	Completed = wire.Completed
	Failed    = wire.Failed
	Canceled  = wire.Canceled
)

// Run executes one command through its plugin and returns how it ended. When
// ctx is cancelled the command is aborted: the plugin kills its process tree
// and confirms; a plugin that does not confirm within AbortDeadline(grace)
// is killed with its whole tree. A plugin crash fails only this command.
func (r *Registry) Run(ctx context.Context, req Request, events Events) Result {
	if r.opts.Observer != nil {
		return r.observedRun(ctx, req, events)
	}
	return r.run(ctx, req, events, nil)
}

// run is Run; when abortedAt is not nil, it is set to when the abort began.
func (r *Registry) run(ctx context.Context, req Request, events Events, abortedAt *time.Time) Result {
	r.mu.RLock()
	p, ok := r.commands[req.Command]
	r.mu.RUnlock()
	if !ok {
		return Result{Status: Failed, Message: r.missingCommand(req.Command).Error()}
	}
	if ctx.Err() != nil {
		return Result{Status: Canceled, Message: "aborted before it started"}
	}
	if err := CheckParamSizes(req.Command, req.Params); err != nil {
		return Result{Status: Failed, Message: err.Error()}
	}
	inst, err := p.acquire(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return Result{Status: Canceled, Message: "aborted before it started: " + err.Error()}
		}
		return Result{Status: Failed, Message: err.Error()}
	}
	defer p.release(inst)

	// The guard's stall abort ends runCtx, not the caller's ctx: the
	// command is then aborted as by a cancel, but fails.
	runCtx, abort := context.WithCancelCause(ctx)
	defer abort(nil)
	cg := r.runCgroup(ctx, req, events)
	w := startWatch(inst, req.RunID, req.Guard, abort, r.ooms.recent(), cg)
	res := r.runOn(runCtx, p, inst, req, cg.Path(), watchEvents{to: events, w: w}, abortedAt)
	res = w.finish(ctx, res, events, r.opts.Observer, req.Command)
	r.releaseCgroup(cg)
	return res
}

// runOn runs req on inst, a plugin process acquired for it, and returns how
// it ended; ctx's end aborts it.
func (r *Registry) runOn(ctx context.Context, p *Plugin, inst *instance, req Request, cgroupPath string, events Events, abortedAt *time.Time) Result {
	rreq, err := r.buildRequest(ctx, p.name, req, cgroupPath)
	if err != nil {
		return Result{Status: Failed, Message: err.Error()}
	}
	grace := req.Grace
	if grace <= 0 {
		grace = process.DefaultGrace // what the plugin takes for 0
	}
	// The stream lives until the plugin answers: ctx's end asks the plugin
	// to abort (Cancel), it does not cut the stream.
	client := &Client{rpc: inst.rpc}
	out := client.Run(context.WithoutCancel(ctx), Call{Request: rreq, Grace: grace, Events: events, Abort: ctx.Done()})
	if abortedAt != nil && !out.AbortedAt.IsZero() {
		*abortedAt = out.AbortedAt
	}
	switch {
	case out.Raw != nil:
		return out.Result
	case errors.Is(out.Err, ErrCancelRefused):
		r.log.Warn("could not ask plugin to abort; killing it", "plugin", p.name, "error", out.CancelErr)
		return r.killed(p, inst, req, fmt.Sprintf("plugin %q did not accept the abort (%v)", p.name, out.CancelErr))
	case errors.Is(out.Err, ErrAbortTimeout):
		return r.killed(p, inst, req, fmt.Sprintf("plugin %q did not finish aborting command %q within %s", p.name, req.Command, AbortDeadline(grace)))
	case errors.Is(out.Err, io.EOF):
		return r.broken(ctx, p, inst, req, grace, errors.New("the plugin ended the stream without a result"))
	default:
		return r.broken(ctx, p, inst, req, grace, out.Err)
	}
}

func (r *Registry) buildRequest(ctx context.Context, plugin string, req Request, cgroupPath string) (*pluginv1.RunRequest, error) {
	// Parameters go out normalised against the plugin's description, so a
	// plugin in any language gets ["-r", 23.976] as the strings the stock
	// worker would make of it, and a wrong one fails before the plugin runs.
	norm := req.Params
	if ci, ok := r.Command(req.Command); ok {
		var err error
		if norm, err = wire.NormalizeParams(ci.spec, req.Params, false); err != nil {
			return nil, err
		}
	}
	params, err := toStruct(norm)
	if err != nil {
		return nil, fmt.Errorf("command %q: parameters: %w", req.Command, err)
	}
	table, err := r.pluginTable(ctx, plugin)
	if err != nil {
		return nil, fmt.Errorf("command %q: %w", req.Command, err)
	}
	cfg, err := toStruct(table)
	if err != nil {
		return nil, fmt.Errorf("[plugins.%s] config: %w", plugin, err)
	}
	rreq := &pluginv1.RunRequest{
		JobId: req.JobID, TaskId: req.TaskID, RunId: req.RunID, Command: req.Command,
		Parameters: params, PluginConfig: cfg, Env: req.Env, WorkDir: req.WorkDir,
		GraceSeconds: req.Grace.Seconds(), TotalSteps: int64(req.TotalSteps),
		CgroupPath: cgroupPath,
	}
	if err := checkRequestSize(rreq); err != nil {
		return nil, err
	}
	return rreq, nil
}

// pluginTable is a plugin's config table for one run: its [plugins.<name>]
// table with the keys of Options.RunConfig over it.
func (r *Registry) pluginTable(ctx context.Context, plugin string) (map[string]any, error) {
	table := r.opts.Config[plugin]
	if r.opts.RunConfig == nil {
		return table, nil
	}
	extra, err := r.opts.RunConfig(ctx, plugin)
	if err != nil || len(extra) == 0 {
		return table, err
	}
	merged := make(map[string]any, len(table)+len(extra))
	for k, v := range table {
		merged[k] = v
	}
	for k, v := range extra {
		merged[k] = v
	}
	return merged, nil
}

// toStruct converts a JSON-like map (from JSON or TOML) to a protobuf Struct.
// A JSON round trip normalises TOML's int64s, []string and the like.
func toStruct(m map[string]any) (*structpb.Struct, error) {
	if len(m) == 0 {
		return &structpb.Struct{}, nil
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	var norm map[string]any
	if err := json.Unmarshal(raw, &norm); err != nil {
		return nil, err
	}
	return structpb.NewStruct(norm)
}

// broken handles a stream that broke before its result. That is not always a
// dead plugin: a message over the size limit or an error status from the
// plugin breaks only this call, and other commands may be running in the
// same process. So the plugin is killed only when it has exited or does not
// answer; otherwise only this command fails, once the plugin confirms it is
// no longer running it.
func (r *Registry) broken(ctx context.Context, p *Plugin, inst *instance, req Request, grace time.Duration, cause error) Result {
	// Without a run id the plugin's run cannot be asked about.
	if req.RunID == "" || inst.exited() || !r.runGone(inst, req.RunID, AbortDeadline(grace)) {
		return r.lost(ctx, p, inst, req, cause)
	}
	msg := fmt.Sprintf("plugin %q broke off command %q: %v (the plugin itself is fine and goes on with its other commands)", p.name, req.Command, cause)
	r.log.Error("command stream broke", "plugin", p.name, "command", req.Command, "error", cause)
	sweep, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := proctree.KillTagged(sweep, os.Getpid(), req.RunID); err != nil {
		msg += "; " + err.Error()
	}
	if ctx.Err() != nil {
		return Result{Status: Canceled, Message: msg}
	}
	return Result{Status: Failed, Message: msg}
}

// runGone asks the plugin to abort a run whose stream broke and waits until
// the plugin no longer knows the run (its tree is gone then), for at most
// wait. False means the plugin did not answer or kept the run.
func (r *Registry) runGone(inst *instance, runID string, wait time.Duration) bool {
	deadline := time.Now().Add(wait)
	client := &Client{rpc: inst.rpc}
	for {
		cctx, cancel := context.WithTimeout(context.Background(), cancelCallTimeout)
		found, err := client.Cancel(cctx, runID)
		cancel()
		switch {
		case err != nil:
			return false
		case !found:
			return true
		case time.Now().After(deadline):
			return false
		}
		time.Sleep(runGonePoll)
	}
}

// runGonePoll is how often runGone asks again.
const runGonePoll = 50 * time.Millisecond

// lost handles a stream that broke before its result because the plugin
// crashed or stopped answering. Only this command fails; the next one gets a
// new plugin.
func (r *Registry) lost(ctx context.Context, p *Plugin, inst *instance, req Request, cause error) Result {
	// go-plugin notices the exit a moment after the stream breaks.
	for i := 0; i < 20 && !inst.exited(); i++ {
		time.Sleep(25 * time.Millisecond)
	}
	what := "lost contact with"
	if inst.exited() {
		what = "crashed while running"
	}
	msg := fmt.Sprintf("plugin %q (pid %d) %s command %q: %v; it will be restarted for the next command", p.name, inst.pid, what, req.Command, cause)
	r.log.Error("plugin failure", "plugin", p.name, "command", req.Command, "error", cause)
	r.crashed(p.name)
	res := r.killed(p, inst, req, msg)
	if ctx.Err() != nil {
		res.Status = Canceled
	} else {
		res.Status = Failed
	}
	return res
}

// killed kills the plugin with its whole tree and sweeps processes the
// command left behind (they reparent to the host, a subreaper, and carry the
// run's tag).
func (r *Registry) killed(p *Plugin, inst *instance, req Request, msg string) Result {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	inst.kill(ctx)
	p.forget(inst)
	if err := proctree.KillTagged(ctx, os.Getpid(), req.RunID); err != nil {
		msg += "; " + err.Error()
	}
	return Result{Status: Canceled, Message: msg}
}
