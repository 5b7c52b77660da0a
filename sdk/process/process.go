// Package process runs a command's child process for a plugin: contained in
// its own process group (a Job Object on Windows) and tagged with the run id,
// its output streamed line by line, and its whole process tree killed when the
// command is canceled or when its main process exits and leaves others behind.
//
// Output lines: stdout and stderr are split at "\n"; a "\r" right before the
// "\n" is dropped (CRLF), a lone "\r" (a progress bar redrawing its line) is
// kept as part of the line. Lines longer than MaxLineBytes are delivered in
// pieces cut at UTF-8 rune boundaries. A final line without a newline is
// delivered too. Invalid UTF-8 is replaced with U+FFFD, one per run of bad
// bytes, because log lines travel in protobuf strings and JSON.
//
// Plugins should be child subreapers (the SDK makes them one on Linux) so that
// daemons that double-fork stay findable below them.
package process

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/cajonfarm/cajon/sdk/proctree"
	"github.com/cajonfarm/cajon/sdk/wire"
)

// Defaults for Command's durations.
const (
	// DefaultGrace is the time between SIGTERM and SIGKILL when a command is
	// aborted and no other grace is asked for. It is the one definition of
	// that default: sdk.DefaultGrace, a plugin's grace when the host sends
	// none, and the host's kill_grace default are this value.
	DefaultGrace = 10 * time.Second
	// NoGrace is the shortest grace: SIGKILL follows SIGTERM at once. It is
	// what "no grace" (kill_grace = "0s") becomes, because a grace of 0
	// asks for DefaultGrace everywhere, on the wire too (grace_seconds 0).
	NoGrace = time.Millisecond
	// DefaultDrain is how long leftovers of a command get after its main
	// process exited.
	DefaultDrain = 1 * time.Second
)

// Stream names the output stream a line came from.
type Stream int

// The output streams of a command.
const (
	Stdout Stream = 1
	Stderr Stream = 2
)

// String returns "stdout" or "stderr".
func (s Stream) String() string {
	switch s {
	case Stdout:
		return "stdout"
	case Stderr:
		return "stderr"
	}
	return fmt.Sprintf("Stream(%d)", int(s))
}

// Command describes one child process to run. It is run directly, without a
// shell.
type Command struct {
	// Path is the executable: a path, or a name looked up in PATH.
	Path string
	// Args are the arguments, without the program name.
	Args []string
	// Env is the full environment as "KEY=value" entries; nil inherits this
	// process's environment. The plugin's plumbing variables
	// (wire.IsPlumbing: go-plugin's PLUGIN_*, CAJON_PLUGIN,
	// CAJON_LIFELINE_FD) are left out either way.
	Env []string
	// Dir is the working directory; "" is this process's.
	Dir string
	// Tag is set in the environment as CAJON_RUN_ID so that processes that
	// leave the process group are still found and killed. Every process
	// tagged Tag counts as part of this command: commands that run at the
	// same time need different tags (sdk.Run.Exec gives each "<run id>/<n>").
	Tag string
	// Grace is how long processes get between SIGTERM (CTRL_BREAK on
	// Windows) and SIGKILL. 0 means DefaultGrace.
	Grace time.Duration
	// Drain is how long processes left over after the main process exited
	// may keep running and writing output before they are terminated.
	// 0 means DefaultDrain.
	Drain time.Duration
	// Cgroup is a cgroupfs directory to run the command's processes in
	// (Linux; ignored elsewhere): the memory cgroup the host made for the
	// run, whose limit is the run's max_task_memory (sdk.Run.Cgroup, from
	// RunRequest.cgroup_path). "" runs them where the plugin is. On cgroup
	// v2 the main process is cloned into it (CLONE_INTO_CGROUP); on v1, or
	// where the kernel refuses that, it is moved there right after it
	// starts. Everything it starts is in the cgroup too, and the kernel
	// holds the whole tree to the limit. See proctree.Options.Cgroup.
	Cgroup string
	// OnCgroupError, if set, is called (before OnStart) when the main
	// process runs but could not join Cgroup, with why. The command runs
	// on: the host's watchdog then enforces the memory cap instead.
	// sdk.Run.Exec writes it to the task log.
	OnCgroupError func(err error)
	// OnStart, if set, is called with the main process's pid once it runs.
	OnStart func(pid int)
	// OnLine, if set, is called with each line of output, without its line
	// ending. Calls never overlap, and none happens after Run returned (Run
	// waits for a call in progress, so OnLine must not wait for Run). Lines
	// read together share memory: strings.Clone a line you keep for long
	// (say, the last error message) rather than pass on.
	OnLine func(s Stream, line string)
}

// Result is how a command ended.
type Result struct {
	// Pid is the main process's pid.
	Pid int
	// ExitCode is the main process's exit code; -1 if a signal ended it or
	// it could not be waited for.
	ExitCode int
	// Signal names the signal that ended the main process ("killed",
	// "segmentation fault", ...); "" if it exited by itself.
	Signal string
	// Canceled is true if ctx was done before the main process exited.
	Canceled bool
}

// Run starts c, streams its output to c.OnLine and waits for it.
//
// A non-zero exit code is not an error: Result.ExitCode carries it. Run
// returns an error if the command cannot be started (naming the executable),
// if ctx is done (wrapping ctx.Err(), with Result.Canceled set, after the
// whole process tree was terminated: SIGTERM, c.Grace, SIGKILL), or if
// processes of the command survive being killed.
//
// When the main process exits, the processes it left behind get c.Drain to
// finish, then are terminated the same way: a command never leaves processes
// behind. Reading output never delays that: once the tree is gone, output
// still held open by a stranger is abandoned.
func Run(ctx context.Context, c Command) (Result, error) {
	if c.Path == "" {
		return Result{}, errors.New("run command: no executable given")
	}
	if err := ctx.Err(); err != nil {
		return Result{Canceled: true}, fmt.Errorf("run %s: not started: %w", c.Path, err)
	}
	grace, drain := c.Grace, c.Drain
	if grace <= 0 {
		grace = DefaultGrace
	}
	if drain <= 0 {
		drain = DefaultDrain
	}

	// Our own pipes, not cmd.StdoutPipe: Run decides when the read ends are
	// closed, so a process that keeps the write end open cannot block it.
	outR, outW, err := os.Pipe()
	if err != nil {
		return Result{}, fmt.Errorf("run %s: create stdout pipe: %w", c.Path, err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return Result{}, fmt.Errorf("run %s: create stderr pipe: %w", c.Path, err)
	}
	cmd := exec.Command(c.Path, c.Args...)
	env := c.Env
	if env == nil {
		env = os.Environ()
	}
	// A plugin's own environment carries how it was started and connected
	// to the host (go-plugin's client certificate among them); its commands
	// get the worker's environment without that.
	cmd.Env = wire.WithoutPlumbing(env)
	cmd.Dir = c.Dir
	cmd.Stdout, cmd.Stderr = outW, errW
	g, err := proctree.Start(cmd, proctree.Options{Tag: c.Tag, Cgroup: c.Cgroup})
	outW.Close() // the children have their copies now
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		if c.Dir != "" {
			// A bad working directory fails the same way as a missing
			// executable ("fork/exec PATH: no such file or directory").
			if _, serr := os.Stat(c.Dir); serr != nil {
				return Result{}, fmt.Errorf("run %s: working directory: %w", c.Path, serr)
			}
		}
		return Result{}, fmt.Errorf("run %s: %w", c.Path, err)
	}

	res := Result{Pid: g.Pid(), ExitCode: -1}
	if cerr := g.CgroupErr(); cerr != nil && c.OnCgroupError != nil {
		c.OnCgroupError(cerr)
	}
	if c.OnStart != nil {
		c.OnStart(res.Pid)
	}
	sink := &lineSink{onLine: c.OnLine}
	readDone := make(chan struct{})
	go func() {
		done := make(chan struct{})
		go func() { readLines(errR, Stderr, sink); close(done) }()
		readLines(outR, Stdout, sink)
		<-done
		close(readDone)
	}()
	waited := make(chan error, 1)
	go func() { waited <- g.Wait() }()

	var waitErr, termErr error
	leaderGone := true
	select {
	case waitErr = <-waited:
		drainLeftovers(ctx, g, readDone, drain)
		termErr = g.Terminate(context.WithoutCancel(ctx), grace)
	case <-ctx.Done():
		res.Canceled = true
		termErr = g.Terminate(context.WithoutCancel(ctx), grace)
		if termErr == nil {
			waitErr = <-waited // gone, so Wait returns at once
		} else {
			select {
			case waitErr = <-waited:
			case <-time.After(time.Second):
				leaderGone = false // it survived SIGKILL; termErr says so
			}
		}
	}

	// Every process of the command is gone now, so the pipes hit EOF as
	// soon as what is buffered in them is read. Wait for that, but not for
	// a stranger that got hold of a write end.
	select {
	case <-readDone:
	case <-time.After(max(drain, time.Second)):
		outR.Close() // wakes up the blocked reads
		errR.Close()
		select {
		case <-readDone:
		case <-time.After(time.Second):
			// Windows cannot interrupt a blocked pipe read; the reader goes
			// when the writer does, and delivers nothing more (stopped).
		}
	}
	sink.stop()
	outR.Close()
	errR.Close()

	if leaderGone {
		res.ExitCode, res.Signal = exitStatus(cmd.ProcessState)
	}
	var errs []error
	if res.Canceled {
		errs = append(errs, fmt.Errorf("run %s: canceled: %w", c.Path, ctx.Err()))
	}
	var exitErr *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exitErr) {
		errs = append(errs, fmt.Errorf("run %s: wait for pid %d: %w", c.Path, res.Pid, waitErr))
	}
	if termErr != nil {
		errs = append(errs, fmt.Errorf("run %s: %w", c.Path, termErr))
	}
	return res, errors.Join(errs...)
}

// drainLeftovers waits after the main process exited, up to drain, until no
// process of the group is left and all output has been read. It returns
// early if ctx is done.
func drainLeftovers(ctx context.Context, g *proctree.Group, readDone <-chan struct{}, drain time.Duration) {
	timer := time.NewTimer(drain)
	defer timer.Stop()
	delay := 5 * time.Millisecond
	for {
		members, err := g.Members()
		if err == nil && len(members) == 0 {
			// Nobody of ours is left to write; wait for the readers to
			// catch up (or for the drain, if a stranger holds a pipe).
			select {
			case <-readDone:
			case <-timer.C:
			case <-ctx.Done():
			}
			return
		}
		select {
		case <-timer.C:
			return
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, 100*time.Millisecond)
	}
}

// exitStatus returns the exit code and, if a signal ended the process, the
// signal's name.
func exitStatus(ps *os.ProcessState) (int, string) {
	if ps == nil {
		return -1, ""
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return -1, ws.Signal().String()
	}
	return ps.ExitCode(), ""
}
