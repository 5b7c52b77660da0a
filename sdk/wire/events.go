package wire

import (
	pluginv1 "github.com/cajonfarm/cajon/sdk/proto/cajon/plugin/v1"
)

// Status is how a command ended.
type Status int

// The ways a command ends.
const (
	Completed Status = iota
	Failed
	Canceled
)

// String is the status as the host logs it: "completed", "failed" or
// "canceled".
func (s Status) String() string {
	switch s {
	case Completed:
		return "completed"
	case Failed:
		return "failed"
	default:
		return "canceled"
	}
}

// Result is how a command ended and why.
type Result struct {
	Status Status
	// Message says why the command failed, or what went wrong while it
	// was being aborted. Empty when it completed and for a plain abort:
	// the status says that much.
	Message string
	// Warnings are problems that did not fail the command, one short line
	// each (bounded by Warnings), for the task's activity and the metrics.
	Warnings []string
}

// Progress is one progress update of a command, decoded from the wire
// (plugin.proto, message Progress). A part left out leaves it unchanged.
type Progress struct {
	// HasSteps is false for an update that leaves the steps unchanged (an
	// activity-only update); StepsDone and StepsTotal are then 0.
	HasSteps bool
	// StepsDone of StepsTotal is how far the command is, in the plugin's
	// own unit (frames, bytes, files). StepsTotal 0: StepsDone is already
	// in the task's steps.
	StepsDone, StepsTotal int64
	// Activity is what is happening now; "" = unchanged.
	Activity string
}

// Output is a file the command produced.
type Output struct {
	Path string
	// MIMEType is the file's type when the plugin knows it, e.g. "image/png".
	MIMEType string
}

// ChildProcess reports a process the command started (Exited false) or
// its end.
type ChildProcess struct {
	PID      int
	Exited   bool
	ExitCode int
}

// Events receives a running command's events in order: log batches,
// progress, outputs and child processes. The result is not an event: it
// ends the run (Deliver returns it).
//
// It is an interface with a method per kind, not a func taking a sum type,
// because log lines are the volume: a batch reaches Log as the decoded
// message's own slice, with no copy and no allocation per batch or line
// (an event boxed in an interface would allocate once per batch), and a
// new kind of event is a compile error in every receiver rather than one
// more case a type switch silently skips.
type Events interface {
	// Log receives a batch of complete lines, without their newlines. The
	// slice is the receiver's to keep: nothing else holds it.
	Log(lines []string)
	Progress(Progress)
	Output(Output)
	Child(ChildProcess)
}

// Deliver decodes one event of a Run stream: a result is returned with
// final true; any other event goes to to (which may be nil: then it is
// dropped). An empty event, or one of a kind added to the protocol after
// this version, is skipped.
func Deliver(ev *pluginv1.RunEvent, to Events) (res Result, final bool) {
	switch e := ev.GetEvent().(type) {
	case *pluginv1.RunEvent_Result:
		return resultOf(e.Result), true
	case *pluginv1.RunEvent_Log:
		if to != nil {
			to.Log(e.Log.GetLines())
		}
	case *pluginv1.RunEvent_Progress:
		if to != nil {
			to.Progress(progressOf(e.Progress))
		}
	case *pluginv1.RunEvent_Output:
		if to != nil {
			to.Output(Output{Path: e.Output.GetPath(), MIMEType: e.Output.GetMimeType()})
		}
	case *pluginv1.RunEvent_Child:
		if to != nil {
			c := e.Child
			to.Child(ChildProcess{PID: int(c.GetPid()), Exited: c.GetExited(), ExitCode: int(c.GetExitCode())})
		}
	}
	return Result{}, false
}

// progressOf applies the wire's rules for absent and out-of-range fields.
func progressOf(p *pluginv1.Progress) Progress {
	out := Progress{Activity: p.GetActivity()}
	// A negative steps_done also means unchanged: plugins built before the
	// field was optional sent -1 with an activity.
	if p.StepsDone != nil && p.GetStepsDone() >= 0 {
		out.HasSteps = true
		out.StepsDone = p.GetStepsDone()
		// A negative total is no total, as an absent or 0 one.
		out.StepsTotal = max(0, p.GetStepsTotal())
	}
	return out
}

// resultOf maps a result onto a status. A status this version does not
// know, or none, is a failure: it must not pass for success.
func resultOf(r *pluginv1.Result) Result {
	warnings := Warnings(r.GetWarnings())
	switch r.GetStatus() {
	case pluginv1.Result_STATUS_COMPLETED:
		return Result{Status: Completed, Warnings: warnings}
	case pluginv1.Result_STATUS_CANCELED:
		return Result{Status: Canceled, Message: r.GetMessage(), Warnings: warnings}
	default:
		msg := r.GetMessage()
		if msg == "" {
			msg = "failed without a message"
		}
		return Result{Status: Failed, Message: msg, Warnings: warnings}
	}
}

// HostLinePrefix starts every line that Cajon itself, the host or the SDK,
// writes into a task's log ("cajon: command 1/2: ..."), so that people and
// tools tell those lines from the command's own output.
const HostLinePrefix = "cajon: "
