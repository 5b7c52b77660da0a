// Package task runs one task: its commands in order, each through the plugin
// that provides it, turning the plugins' events into task-wide progress for a
// Reporter (the Manager's update queue, or the local job store).
package task

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/cajonfarm/cajon/sdk/bytesize"

	"github.com/cajonfarm/cajon/sdk/phrase"

	"github.com/cajonfarm/cajon/sdk/wire"

	"github.com/cajonfarm/cajon/host/plugins"
)

// Command is one command of a task, as a Manager's AssignedTask or a local job
// file gives it.
type Command struct {
	Name   string
	Params map[string]any
	// TotalSteps is the command's share of the task's steps (a Manager's
	// total_step_count; 0 = none: it then counts as one step when it
	// completes). The plugin is told it, and its progress is scaled onto it.
	TotalSteps int
}

// Task is a unit of work: commands run in order, the first failure stops it.
type Task struct {
	ID, JobID, Name, Type string
	Commands              []Command
	// WorkDir, when set, is the task's working directory instead of the
	// Runner's: relative paths in its parameters are relative to it.
	WorkDir string
}

// StepsTotal is the task's step count as the Manager computes it.
func (t Task) StepsTotal() int {
	n := 0
	for _, c := range t.Commands {
		n += max(1, c.TotalSteps)
	}
	return n
}

// Reporter receives what a running task does. Calls come from one goroutine,
// in order.
type Reporter interface {
	// Log receives complete lines of the task log.
	Log(lines []string)
	// Progress reports task-wide steps completed and the current activity.
	Progress(stepsCompleted int, activity string)
	// Output reports a file the task produced.
	Output(path, mime string)
	// Child reports a process a command started (exited=false) or its end.
	Child(pid int, exited bool)
}

// CommandRunner runs one command; *plugins.Registry is one.
type CommandRunner interface {
	Run(ctx context.Context, req plugins.Request, events plugins.Events) plugins.Result
}

// Status is how a task ended.
type Status = plugins.Status

// The ways a task ends.
const (
	Completed = plugins.Completed
	Failed    = plugins.Failed
	Canceled  = plugins.Canceled
)

// Outcome is how a task ended.
type Outcome struct {
	Status Status
	// Message says why the task failed or was canceled, naming the command.
	Message string
	// StepsCompleted is the task-wide step count reached.
	StepsCompleted int
}

// Executor runs one task and says how it ended: *Runner is one, and
// host/metrics wraps one to count what it runs. The worker (Manager mode) and
// the local scheduler each take one.
type Executor interface {
	Run(ctx context.Context, t Task, rep Reporter) Outcome
}

// Runner runs tasks through plugins.
type Runner struct {
	Commands CommandRunner
	// Grace is the abort grace period passed to every command (0 = default).
	Grace time.Duration
	// WorkDir and Env are given to every command.
	WorkDir string
	Env     map[string]string
	// Guard is what the host watches in every command: stalls and memory.
	Guard plugins.Guard
}

// Run executes t's commands in order and reports through rep. Cancelling
// ctx aborts the running command with its whole process tree.
func (r *Runner) Run(ctx context.Context, t Task, rep Reporter) Outcome {
	workDir := r.WorkDir
	if t.WorkDir != "" {
		workDir = t.WorkDir
	}
	base := 0
	var warnings []string // of the task's commands, for its last activity
	for i, c := range t.Commands {
		if ctx.Err() != nil {
			return Outcome{Status: Canceled, Message: "aborted", StepsCompleted: base}
		}
		activity := fmt.Sprintf("%s (command %d of %d)", c.Name, i+1, len(t.Commands))
		rep.Progress(base, activity)
		rep.Log([]string{fmt.Sprintf(wire.HostLinePrefix+"command %d/%d: %s %s", i+1, len(t.Commands), c.Name, brief(c.Params))})
		cmdSteps := max(1, c.TotalSteps)
		res := r.Commands.Run(ctx, plugins.Request{
			JobID: t.JobID, TaskID: t.ID, RunID: runID(t.ID, i), Command: c.Name,
			Params: c.Params, Env: r.Env, WorkDir: workDir, Grace: r.Grace, TotalSteps: c.TotalSteps,
			Guard: r.Guard,
		}, &commandEvents{rep: rep, base: base, share: cmdSteps})
		if len(res.Warnings) > 0 {
			warnings = append(warnings, res.Warnings...)
			rep.Log([]string{fmt.Sprintf(wire.HostLinePrefix+"command %q %s with %s: %s", c.Name, res.Status, phrase.Count(len(res.Warnings), "warning"), strings.Join(res.Warnings, "; "))})
		}
		switch res.Status {
		case plugins.Completed:
			base += cmdSteps
			rep.Progress(base, "")
		case plugins.Canceled:
			msg := fmt.Sprintf("command %q aborted", c.Name)
			if res.Message != "" { // what went wrong on the way: a plain abort has none
				msg += ": " + res.Message
			}
			rep.Log([]string{wire.HostLinePrefix + msg})
			return Outcome{Status: Canceled, Message: msg, StepsCompleted: base}
		default:
			msg := fmt.Sprintf("command %q failed: %s", c.Name, res.Message)
			rep.Log([]string{wire.HostLinePrefix + msg})
			return Outcome{Status: Failed, Message: msg, StepsCompleted: base}
		}
	}
	if len(warnings) > 0 {
		// The activity is what the Manager shows of a finished task: a
		// task that completed despite problems says so there.
		rep.Progress(base, fmt.Sprintf("completed with %s: %s", phrase.Count(len(warnings), "warning"), warnings[0]))
	}
	return Outcome{Status: Completed, StepsCompleted: base}
}

// commandEvents turns one command's events into task-wide reports: its
// progress is scaled onto the command's share of the task's steps.
type commandEvents struct {
	rep Reporter
	// base is the task's steps done before this command; share is the
	// command's part of them.
	base, share int
}

func (e *commandEvents) Log(lines []string) { e.rep.Log(lines) }

// PeakMemory ends the command's part of the log with its peak memory
// (plugins.PeakEvents).
func (e *commandEvents) PeakMemory(bytes int64) {
	e.rep.Log([]string{fmt.Sprintf("cajon: peak memory of the command's processes: %s (resident, sampled every %s)", bytesize.Format(bytes), plugins.GuardInterval)})
}

func (e *commandEvents) Progress(p plugins.Progress) {
	steps := -1 // unchanged
	if s, ok := commandSteps(p, e.share); ok {
		steps = e.base + s
	}
	e.rep.Progress(steps, p.Activity)
}

func (e *commandEvents) Output(o plugins.Output) { e.rep.Output(o.Path, o.MIMEType) }

func (e *commandEvents) Child(c plugins.ChildProcess) { e.rep.Child(c.PID, c.Exited) }

// commandSteps maps a plugin's progress onto the command's share of the
// task's steps (plugin.proto, message Progress): done/total scaled to share,
// or done as task steps when the plugin gives no total; clamped to
// [0, share]. ok is false when the event leaves the steps unchanged.
func commandSteps(p plugins.Progress, share int) (steps int, ok bool) {
	if !p.HasSteps || p.StepsDone < 0 {
		return 0, false
	}
	done, total := p.StepsDone, p.StepsTotal
	if total <= 0 {
		return int(min(done, int64(share))), true
	}
	done = min(done, total)
	// done*share overflows int64 only for absurd totals; scale through
	// float64 then, which is exact enough for a progress bar.
	if done > math.MaxInt64/int64(share) {
		return int(float64(done) / float64(total) * float64(share)), true
	}
	return int(done * int64(share) / total), true
}

// runID is unique per command execution; it tags the command's processes.
func runID(taskID string, index int) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s.%d.%s", taskID, index, hex.EncodeToString(b[:]))
}

// brief renders parameters for the log, shortened.
func brief(params map[string]any) string {
	// Shell command lines are full of > and &: keep them readable.
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(params); err != nil {
		return ""
	}
	raw := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	if len(raw) > 300 {
		return string(raw[:297]) + "..."
	}
	return string(raw)
}
