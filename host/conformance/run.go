package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cajonfarm/cajon/host/plugins"
	"github.com/cajonfarm/cajon/sdk/proctree"
	pluginv1 "github.com/cajonfarm/cajon/sdk/proto/cajon/plugin/v1"
	"github.com/cajonfarm/cajon/sdk/wire"
	"google.golang.org/protobuf/types/known/structpb"
)

// runOutcome is what one Run call did.
type runOutcome struct {
	runID    string
	res      *pluginv1.Result // nil without a result
	resultAt time.Time
	events   *eventChecker
	err      string // the stream broke, ended without a result, or timed out
	timedOut bool
	stopped  bool // the check's deadline passed, or it was interrupted
	took     time.Duration
}

func (o *runOutcome) result() string {
	if o.res == nil {
		return "no result"
	}
	s := strings.ToLower(strings.TrimPrefix(o.res.GetStatus().String(), "STATUS_"))
	if m := o.res.GetMessage(); m != "" {
		s += " (" + firstLine(m) + ")"
	}
	return s
}

// cancelAt says when runOnce cancels the run: at its first event, or after
// after, whichever comes first. It records what happened.
type cancelAt struct {
	after  time.Duration
	sent   bool
	sentAt time.Time
	found  bool
	err    error
}

// runOnce runs one command and checks its events until the stream ends.
func (c *checker) runOnce(ctx context.Context, l *plugins.Launched, spec *pluginv1.CommandSpec, params *structpb.Struct, at *cancelAt) *runOutcome {
	c.runs++
	out := &runOutcome{runID: fmt.Sprintf("check-%d-%s", c.runs, spec.GetName()), events: newEventChecker()}
	start := time.Now()
	defer func() { out.took = time.Since(start) }()
	workDir, err := os.MkdirTemp(c.opts.RunDir, "cajon-plugins-check-")
	if err != nil {
		out.err = fmt.Sprintf("work folder: %v", err)
		return out
	}
	defer os.RemoveAll(workDir)

	// The abort of a cancel run starts at its first event, or after
	// at.after, whichever comes first.
	var abort chan struct{}
	var startAbort func()
	if at != nil {
		abort = make(chan struct{})
		var once sync.Once
		startAbort = func() { once.Do(func() { close(abort) }) }
		t := time.AfterFunc(at.after, startAbort)
		defer t.Stop()
	}
	res := l.Client().Run(ctx, plugins.Call{
		Request: &pluginv1.RunRequest{
			JobId: "plugins-check", TaskId: "plugins-check", RunId: out.runID, Command: spec.GetName(),
			Parameters: params, PluginConfig: c.cfg, WorkDir: workDir,
			GraceSeconds: c.opts.Grace.Seconds(), TotalSteps: checkSteps,
		},
		Grace: c.opts.Grace,
		Raw: func(ev *pluginv1.RunEvent) {
			out.events.add(ev)
			if o := ev.GetOutput(); o != nil {
				removePreview(o, out.runID)
			}
			if ev.GetResult() != nil {
				out.resultAt = time.Now()
			} else if startAbort != nil {
				startAbort()
			}
		},
		Abort:    abort,
		Timeout:  c.opts.RunTimeout,
		CheckEnd: closeTimeout,
	})
	if at != nil && !res.AbortedAt.IsZero() {
		at.sent, at.sentAt, at.found, at.err = true, res.AbortedAt, res.CancelFound, res.CancelErr
	}
	switch {
	case res.Raw != nil:
		out.res = res.Raw
		switch {
		case res.End == nil:
		case errors.Is(res.End, plugins.ErrAfterResult):
			out.events.problem("after", "%v", res.End)
		case errors.Is(res.End, plugins.ErrStayedOpen):
			out.events.problem("open", "%v", res.End)
		default:
			out.events.problem("broke", "%v", res.End)
		}
	case stopped(ctx):
		out.stopped, out.err = true, stopReason(ctx)
	case errors.Is(res.Err, plugins.ErrNoResult), errors.Is(res.Err, plugins.ErrAbortTimeout):
		out.timedOut = true
		out.err = fmt.Sprintf("no result after %s", time.Since(start).Round(time.Millisecond))
	case errors.Is(res.Err, plugins.ErrCancelRefused):
		out.err = fmt.Sprintf("Cancel failed: %v", res.CancelErr)
	case errors.Is(res.Err, io.EOF):
		out.err = "the stream ended without a result: end every Run with exactly one Result"
	default:
		out.err = fmt.Sprintf("the stream broke before a result: %v", res.Err)
	}
	return out
}

// eventChecker checks a run's events as they come and counts them.
type eventChecker struct {
	problems []string
	seen     map[string]bool // problems already reported, by kind

	lines, logs, progress, outputs int
	started                        map[int]bool // children reported started, not yet ended
	children                       int
	lastDone, lastTotal            int64
	haveSteps                      bool
	results                        int
}

func newEventChecker() *eventChecker {
	return &eventChecker{seen: map[string]bool{}, started: map[int]bool{}}
}

// problem records the first problem of each kind: one bad event in a
// thousand is reported once.
func (e *eventChecker) problem(kind, format string, args ...any) {
	if e.seen[kind] {
		return
	}
	e.seen[kind] = true
	e.problems = append(e.problems, fmt.Sprintf(format, args...))
}

func (e *eventChecker) add(ev *pluginv1.RunEvent) {
	if e.results > 0 {
		e.problem("after", "events after the result: the result must be the stream's last message")
	}
	switch x := ev.GetEvent().(type) {
	case *pluginv1.RunEvent_Log:
		e.logs++
		lines := x.Log.GetLines()
		if len(lines) == 0 {
			e.problem("empty log", "an empty log batch: send log events with at least one line")
		}
		for _, l := range lines {
			if strings.ContainsAny(l, "\r\n") {
				e.problem("line break", "a log line holds a line break (%q): send each line as its own entry", firstLine(l))
			}
		}
		e.lines += len(lines)
	case *pluginv1.RunEvent_Progress:
		e.progress++
		e.checkProgress(x.Progress)
	case *pluginv1.RunEvent_Output:
		e.outputs++
		if x.Output.GetPath() == "" {
			e.problem("output", "an output without a path")
		}
	case *pluginv1.RunEvent_Child:
		pid := int(x.Child.GetPid())
		switch {
		case pid <= 0:
			e.problem("pid", "a child process with pid %d", pid)
		case !x.Child.GetExited():
			e.children++
			e.started[pid] = true
		case !e.started[pid]:
			e.problem("child end", "the end of child pid %d, which was never reported started", pid)
		default:
			delete(e.started, pid)
		}
	case *pluginv1.RunEvent_Result:
		e.results++
		switch x.Result.GetStatus() {
		case pluginv1.Result_STATUS_COMPLETED, pluginv1.Result_STATUS_CANCELED:
		case pluginv1.Result_STATUS_FAILED:
			if x.Result.GetMessage() == "" {
				e.problem("message", "a failed result without a message: say why, for the render-farm admin")
			}
		default:
			e.problem("status", "a result without a known status (%v)", x.Result.GetStatus())
		}
	default:
		e.problem("empty", "an event with nothing in it")
	}
}

func (e *eventChecker) checkProgress(p *pluginv1.Progress) {
	if p.StepsTotal != nil && p.GetStepsTotal() < 0 {
		e.problem("total", "steps_total %d is negative: 0 or absent means unknown", p.GetStepsTotal())
	}
	if p.StepsDone == nil {
		return
	}
	done, total := p.GetStepsDone(), p.GetStepsTotal()
	switch {
	case done < 0:
		e.problem("negative", "steps_done %d is negative: leave the field out when the steps are unchanged", done)
		return
	case total > 0 && done > total:
		e.problem("above", "steps_done %d is above steps_total %d", done, total)
	}
	// Backwards, compared as fractions when both have a total.
	if e.haveSteps {
		back := false
		switch {
		case total > 0 && e.lastTotal > 0:
			back = float64(done)/float64(total) < float64(e.lastDone)/float64(e.lastTotal)
		case total <= 0 && e.lastTotal <= 0:
			back = done < e.lastDone
		}
		if back {
			e.problem("back", "progress went back from %d/%d to %d/%d: the Manager shows it going backwards", e.lastDone, e.lastTotal, done, total)
		}
	}
	e.lastDone, e.lastTotal, e.haveSteps = done, total, true
}

func (e *eventChecker) summary() string {
	s := fmt.Sprintf("%d log lines in %d batches, %d progress", e.lines, e.logs, e.progress)
	if e.haveSteps {
		s += fmt.Sprintf(" (last %d/%d)", e.lastDone, e.lastTotal)
	}
	return s + fmt.Sprintf(", %d outputs, %d child processes, 1 result", e.outputs, e.children)
}

// describeProblems checks a plugin's description: what the host relies on.
func describeProblems(d *pluginv1.DescribeResponse, fileName string) []string {
	var ps []string
	switch {
	case d.GetName() == "":
		ps = append(ps, "no plugin name")
	case d.GetName() != fileName:
		ps = append(ps, fmt.Sprintf("the plugin says its name is %q but its file is %s%s: the host refuses it", d.GetName(), plugins.BinaryPrefix, fileName))
	}
	if d.GetVersion() == "" {
		ps = append(ps, "no version")
	}
	if len(d.GetCommands()) == 0 {
		ps = append(ps, "no commands")
	}
	names := map[string]bool{}
	for _, c := range d.GetCommands() {
		cn := c.GetName()
		switch {
		case cn == "" || strings.ContainsAny(cn, " \t\r\n"):
			ps = append(ps, fmt.Sprintf("command name %q is empty or holds white space", cn))
		case names[cn]:
			ps = append(ps, fmt.Sprintf("command %q is described twice", cn))
		}
		names[cn] = true
		if c.GetTaskType() == "" {
			ps = append(ps, fmt.Sprintf("command %q has no task type (the Manager hands out tasks by type)", cn))
		}
		params := map[string]bool{}
		for _, p := range c.GetParams() {
			pn := p.GetName()
			switch {
			case pn == "":
				ps = append(ps, fmt.Sprintf("command %q has a parameter without a name", cn))
			case params[pn]:
				ps = append(ps, fmt.Sprintf("command %q: parameter %q is described twice", cn, pn))
			}
			params[pn] = true
			// A type this host does not know is a warning (DescribeWarnings),
			// and its default the plugin's to judge.
			if def := p.GetDefaultValue(); def != nil {
				if err := wire.CheckValue(p.GetType(), def.AsInterface()); err != nil {
					ps = append(ps, fmt.Sprintf("command %q: parameter %q: default %v", cn, pn, err))
				}
			}
		}
		if ex := c.GetExample(); ex != nil {
			// The host's own check of a job's parameters.
			if err := wire.CheckParams(c, ex.AsMap(), true); err != nil {
				ps = append(ps, fmt.Sprintf("the example does not fit the parameters: %v", err))
			}
		}
	}
	keys := map[string]bool{}
	for _, k := range d.GetConfigSchema().GetKeys() {
		kn := k.GetName()
		switch {
		case kn == "":
			ps = append(ps, "the config schema has a key without a name")
		case keys[kn]:
			ps = append(ps, fmt.Sprintf("config key %q is described twice", kn))
		}
		keys[kn] = true
		if def := k.GetDefaultValue(); def != nil {
			if err := wire.CheckValue(k.GetType(), def.AsInterface()); err != nil {
				ps = append(ps, fmt.Sprintf("config key %q: default %v", kn, err))
			}
		}
	}
	return ps
}

// processAlive reports whether pid is alive below this process (the
// plugin's processes and their orphans are; zombies are not).
func processAlive(pid int) bool {
	ds, err := proctree.Descendants(os.Getpid())
	return err == nil && slices.Contains(ds, pid)
}

// processName is pid's command name where the system tells it.
func processName(pid int) string {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(raw))
}

func uniqueSorted(pids []int) []int {
	slices.Sort(pids)
	return slices.Compact(pids)
}

// removePreview deletes a preview the run reported, and its run's folder once
// empty, as the host does after showing it (wire.PreviewFolder): a check
// leaves nothing in the temporary folder. Only a JPEG in the folder of this
// very run is touched, whatever path the plugin names.
func removePreview(o *pluginv1.Output, runID string) {
	path := o.GetPath()
	dir := filepath.Dir(path)
	if !wire.IsPreview(path, o.GetMimeType()) || filepath.Base(dir) != runID || filepath.Base(filepath.Dir(dir)) != wire.PreviewFolder {
		return
	}
	_ = os.Remove(path)
	_ = os.Remove(dir) // fails while other previews are in it
}
