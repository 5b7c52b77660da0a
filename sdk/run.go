package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/cajonfarm/cajon/sdk/process"
	"github.com/cajonfarm/cajon/sdk/proctree"
	pluginv1 "github.com/cajonfarm/cajon/sdk/proto/cajon/plugin/v1"
	"github.com/cajonfarm/cajon/sdk/wire"
)

// Batching of log lines: one RunEvent per interval or per this many bytes,
// whichever comes first, never one message per line.
const (
	flushInterval = 250 * time.Millisecond
	flushBytes    = 64 << 10
	// DefaultGrace is the time between SIGTERM and SIGKILL when a command is
	// aborted, unless the host asks for another (process.DefaultGrace).
	DefaultGrace = process.DefaultGrace
)

// Run is one execution of a command. It carries the request's context and is
// how the command reports logs, progress and outputs to the host. Its methods
// are safe for concurrent use.
type Run struct {
	// JobID and TaskID identify the Flamenco job and task (or the local ones).
	JobID, TaskID string
	// RunID is unique to this execution. Processes started with Exec carry
	// "<RunID>/<n>" in their environment as CAJON_RUN_ID, n counting the
	// run's Exec calls from 1: each call is contained on its own, so calls
	// may overlap (a helper tool next to the main program) without the end of
	// one killing the other.
	RunID string
	// Command is the command's name.
	Command string
	// WorkDir is the working directory for child processes ("" = inherit).
	WorkDir string
	// Env is extra environment for child processes, on top of the plugin's.
	Env map[string]string
	// Grace is the time between SIGTERM and SIGKILL on abort.
	Grace time.Duration
	// TotalSteps is the task's step count for this command (a Manager's
	// total_step_count), 0 when the job gives none. A command that counts in
	// its own unit does not need it: see Progress.
	TotalSteps int64
	// Cgroup is the memory cgroup the host made for this run (an absolute
	// cgroupfs directory, its limit the run's max_task_memory), or "" for
	// none. Exec starts its processes in it; a plugin that starts processes
	// of the command by other means should start them in it too
	// (process.Command.Cgroup, proctree.Options.Cgroup), or the host's
	// watchdog guards them instead of the kernel. A process the plugin
	// keeps between runs (a warm application session) must not join it:
	// the cgroup is removed when the run ends.
	Cgroup string

	config map[string]any
	out    *emitter
	execs  atomic.Int64 // Exec calls so far, for their process tags
}

// Log writes lines to the task log. A string with newlines is several lines.
func (r *Run) Log(text string) {
	text = strings.TrimSuffix(text, "\n")
	if strings.IndexByte(text, '\n') < 0 {
		// One line, as a command's output handler passes it: no split.
		r.out.line(text)
		return
	}
	r.out.lines(strings.Split(text, "\n"))
}

// Logf formats a line and writes it to the task log.
func (r *Run) Logf(format string, args ...any) { r.Log(fmt.Sprintf(format, args...)) }

// Warn reports a problem that does not fail the command but that an admin
// should see, e.g. "Blender reported an error but saved every frame: ...".
// The text goes to the task log at once, after a "WARNING: " mark; its
// first line (cut to wire.MaxWarningBytes) goes with the command's result,
// whatever it is, and the host shows it in the task's activity and counts
// it per command in its /metrics (cajon_command_warnings_total). At most
// wire.MaxWarnings are sent; the last then says how many more there were.
func (r *Run) Warn(text string) {
	text = strings.TrimSpace(text)
	if text == "" {
		return
	}
	r.Log("WARNING: " + text)
	r.out.warn(text)
}

// Progress reports done of total for this command, in any unit: frames,
// bytes, files. The host maps it onto the command's share of the task's
// steps (TotalSteps, at least 1): done*share/total, rounded down. With total
// 0, done is taken as already in the task's steps. So a command hashing a
// file may report Progress(bytesDone, size) and the Manager sees its steps
// fill up in proportion. Only the latest progress is sent; calling it often
// is cheap.
func (r *Run) Progress(done, total int64) { r.out.steps(done, total) }

// Activity sets the short text that says what the command is doing now, e.g.
// "frame 12, sample 40/128".
func (r *Run) Activity(text string) { r.out.activity(text) }

// Output reports a file the command produced, e.g. a rendered frame. mime may
// be empty when unknown.
//
// A path that is not valid UTF-8 cannot cross the protocol: it is written to
// the log instead, with its invalid bytes escaped.
func (r *Run) Output(path, mime string) {
	if !utf8.ValidString(path) || !utf8.ValidString(mime) {
		r.Logf(wire.HostLinePrefix+"output %q is not valid UTF-8 and cannot be reported", path)
		return
	}
	r.out.event(&pluginv1.RunEvent{Event: &pluginv1.RunEvent_Output{Output: &pluginv1.Output{Path: path, MimeType: mime}}})
}

// PluginConfig decodes the plugin's [plugins.<name>] table from cajon.toml
// into v (through JSON, so use `json` tags). An absent table leaves v as is.
func (r *Run) PluginConfig(v any) error {
	if len(r.config) == 0 {
		return nil
	}
	raw, err := json.Marshal(r.config)
	if err != nil {
		return fmt.Errorf("plugin config: %w", err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("plugin config [plugins.*] table: %w", err)
	}
	return nil
}

// Exec runs a child process contained in this command's process tree: its
// stdout and stderr lines go to the task log (unless c.OnLine is set, which
// then receives them instead), its pid is reported to the host, and when ctx
// is cancelled the whole tree is terminated (SIGTERM, Grace, SIGKILL, sweep).
// A non-zero exit code is not an error: check Result.ExitCode. The
// processes run in the run's memory cgroup (Run.Cgroup) when the host made
// one, unless c.Cgroup names another; a failure to join it is written to the
// task log, and the command runs on.
func (r *Run) Exec(ctx context.Context, c process.Command) (process.Result, error) {
	if c.Tag == "" {
		c.Tag = proctree.SubTag(r.RunID, r.execs.Add(1))
	}
	if c.Grace == 0 {
		c.Grace = r.Grace
	}
	if c.Dir == "" {
		c.Dir = r.WorkDir
	}
	if len(r.Env) > 0 {
		base := c.Env
		if base == nil {
			base = os.Environ()
		}
		keys := make([]string, 0, len(r.Env))
		for k := range r.Env {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		env := append([]string(nil), base...)
		for _, k := range keys {
			env = append(env, k+"="+r.Env[k])
		}
		c.Env = env
	}
	if c.OnLine == nil {
		c.OnLine = func(_ process.Stream, line string) { r.out.line(line) }
	}
	if c.Cgroup == "" {
		c.Cgroup = r.Cgroup
	}
	if c.OnCgroupError == nil {
		c.OnCgroupError = func(err error) {
			r.Log("cajon: this command's processes are not in the run's memory cgroup, so max_task_memory is left to the host's watchdog: " + err.Error())
		}
	}
	userStart := c.OnStart
	c.OnStart = func(pid int) {
		r.out.event(&pluginv1.RunEvent{Event: &pluginv1.RunEvent_Child{Child: &pluginv1.ChildProcess{Pid: int64(pid)}}})
		if userStart != nil {
			userStart(pid)
		}
	}
	res, err := process.Run(ctx, c)
	if res.Pid != 0 {
		r.out.event(&pluginv1.RunEvent{Event: &pluginv1.RunEvent_Child{Child: &pluginv1.ChildProcess{Pid: int64(res.Pid), Exited: true, ExitCode: int64(res.ExitCode)}}})
	}
	return res, err
}

// eventSender is the part of the gRPC stream the emitter needs.
type eventSender interface {
	Send(*pluginv1.RunEvent) error
}

// emitter batches a run's events onto its stream. One mutex keeps the events
// in order and the stream's Send single-threaded.
type emitter struct {
	mu        sync.Mutex
	stream    eventSender
	pending   []string
	pendBytes int
	lastBatch int                // lines in the last batch sent, to size the next
	prog      *pluginv1.Progress // latest unsent progress
	warnings  []string           // for the result, bounded by wire.Warnings
	moreWarn  int                // warnings past wire.MaxWarnings
	err       error              // first send error; later events are dropped
	stop      chan struct{}
	done      chan struct{}
}

func newEmitter(stream eventSender) *emitter {
	e := &emitter{stream: stream, stop: make(chan struct{}), done: make(chan struct{})}
	go e.tick()
	return e
}

func (e *emitter) tick() {
	defer close(e.done)
	t := time.NewTicker(flushInterval)
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
			e.mu.Lock()
			e.flushLocked()
			e.mu.Unlock()
		}
	}
}

func (e *emitter) line(l string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.addLocked(l)
}

func (e *emitter) lines(lines []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, l := range lines {
		e.addLocked(l)
	}
}

// addLocked queues one line, in pieces when it is long or not valid UTF-8.
// It runs once per line of output: the common case takes no closure.
func (e *emitter) addLocked(l string) {
	if len(l) <= process.MaxLineBytes && utf8.ValidString(l) {
		e.pushLocked(l)
		return
	}
	forEachPiece(l, e.pushLocked)
}

func (e *emitter) pushLocked(piece string) {
	if e.pending == nil {
		// A batch is about as long as the one before it.
		e.pending = make([]string, 0, e.lastBatch)
	}
	e.pending = append(e.pending, piece)
	e.pendBytes += len(piece) + 1
	if e.pendBytes >= flushBytes {
		e.flushLocked()
	}
}

// steps and activity merge into the latest unsent progress; a field left
// unset there is "unchanged" for the host.
func (e *emitter) steps(done, total int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.prog == nil {
		e.prog = &pluginv1.Progress{}
	}
	e.prog.StepsDone, e.prog.StepsTotal = &done, &total
}

func (e *emitter) activity(text string) {
	if text == "" {
		return
	}
	text = wireText(text)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.prog == nil {
		e.prog = &pluginv1.Progress{}
	}
	e.prog.Activity = &text
}

// warn keeps a warning for the result.
func (e *emitter) warn(text string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.warnings) < wire.MaxWarnings {
		e.warnings = append(e.warnings, wire.Warning(text))
		return
	}
	e.moreWarn++
}

// event sends a non-batched event after everything queued before it.
func (e *emitter) event(ev *pluginv1.RunEvent) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.flushLocked()
	e.sendLocked(ev)
}

func (e *emitter) flushLocked() {
	if len(e.pending) > 0 {
		e.sendLocked(&pluginv1.RunEvent{Event: &pluginv1.RunEvent_Log{Log: &pluginv1.LogLines{Lines: e.pending}}})
		e.lastBatch = len(e.pending)
		e.pending, e.pendBytes = nil, 0
	}
	if e.prog != nil {
		e.sendLocked(&pluginv1.RunEvent{Event: &pluginv1.RunEvent_Progress{Progress: e.prog}})
		e.prog = nil
	}
}

func (e *emitter) sendLocked(ev *pluginv1.RunEvent) {
	if e.err != nil {
		return
	}
	e.err = e.stream.Send(ev)
}

// finish flushes everything and sends the final result.
func (e *emitter) finish(res *pluginv1.Result) error {
	close(e.stop)
	<-e.done
	e.mu.Lock()
	defer e.mu.Unlock()
	e.flushLocked()
	if len(e.warnings) > 0 {
		res.Warnings = e.warnings
		if e.moreWarn > 0 {
			res.Warnings[len(res.Warnings)-1] = fmt.Sprintf("(and %d more warnings, see the task log)", e.moreWarn+1)
		}
	}
	e.sendLocked(&pluginv1.RunEvent{Event: &pluginv1.RunEvent_Result{Result: res}})
	return e.err
}
