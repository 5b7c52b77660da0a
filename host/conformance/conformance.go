// Package conformance checks that a plugin binary, written in any language,
// keeps the cajon.plugin.v1 contract (`cajon plugins check`): it does the
// handshake, describes itself validly, runs each command with its example
// parameters and sends well-formed events, ends a canceled command's process
// tree within the grace period, exits by itself when its lifeline closes, and
// leaves no process behind.
package conformance

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cajonfarm/cajon/host/plugins"
	"github.com/cajonfarm/cajon/sdk/process"
	"github.com/cajonfarm/cajon/sdk/proctree"
	pluginv1 "github.com/cajonfarm/cajon/sdk/proto/cajon/plugin/v1"
	"github.com/cajonfarm/cajon/sdk/wire"
	"github.com/hashicorp/go-hclog"
	"google.golang.org/protobuf/types/known/structpb"
)

// Limits of a check run. An example is meant to take seconds.
const (
	// DefaultTimeout bounds a whole check run (Options.Timeout, the
	// --timeout flag of `cajon plugins check`).
	DefaultTimeout    = time.Minute
	defaultRunTimeout = time.Minute
	// byHandTimeout bounds a plugin started without the host's magic cookie:
	// it should explain and exit at once.
	byHandTimeout = 5 * time.Second
	// byHandOutputWait is how long the output of a binary started by hand
	// is read after it exited; byHandOutput is how much of it is kept.
	byHandOutputWait = time.Second
	byHandOutput     = 64 << 10
	// closeTimeout bounds the wait for a stream to end after its result.
	closeTimeout = 2 * time.Second
	// leftoverWait bounds the wait for processes that are still dying.
	leftoverWait = 2 * time.Second
	// checkSteps is the task step count the check gives each command, so a
	// command that reports in its own unit is scaled as on a farm.
	checkSteps = 10
)

// Status is the outcome of one check.
type Status int

// The outcomes.
const (
	Pass Status = iota
	Fail
	Skip
)

func (s Status) String() string {
	switch s {
	case Pass:
		return "pass"
	case Fail:
		return "FAIL"
	default:
		return "skip"
	}
}

// Check is one line of the report.
type Check struct {
	Name   string
	Status Status
	// Detail says what was seen, or what is wrong and how to fix it.
	Detail string
	Took   time.Duration
}

// Report is the outcome of checking one plugin binary.
type Report struct {
	Path   string
	Checks []Check
	Took   time.Duration
}

// Failed reports whether any check failed.
func (r *Report) Failed() bool {
	for _, c := range r.Checks {
		if c.Status == Fail {
			return true
		}
	}
	return false
}

// Find returns the check named name.
func (r *Report) Find(name string) (Check, bool) {
	for _, c := range r.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return Check{}, false
}

func (r *Report) add(name string, st Status, took time.Duration, format string, args ...any) {
	r.Checks = append(r.Checks, Check{Name: name, Status: st, Took: took, Detail: fmt.Sprintf(format, args...)})
}

// Options tune a check run.
type Options struct {
	// Grace is the abort grace period given to the commands (0 = the SDK's
	// default).
	Grace time.Duration
	// RunTimeout bounds each example run (0 = one minute).
	RunTimeout time.Duration
	// Timeout bounds the whole check (0 = DefaultTimeout): a step still
	// going when it passes, or when ctx ends, is a failed row naming the
	// step, and the plugin is killed with its tree.
	Timeout time.Duration
	// RunDir is a private folder for the plugin's sockets and the work
	// folders of its runs ("" = the system's temporary folder).
	RunDir string
	// Config is the plugin's [plugins.<name>] table.
	Config map[string]any
	// Logger receives go-plugin's messages and the plugin's stderr (nil =
	// discarded).
	Logger hclog.Logger
}

// checker holds one check run's state.
type checker struct {
	path   string
	opts   Options
	cfg    *structpb.Struct
	rep    *Report
	plugin *plugins.Launched
	runs   int // run ids handed out
}

// Run checks the plugin binary at path and reports every check, failed or
// not. The process becomes a child subreaper (Linux), as the host is, so
// that processes the plugin leaves behind come to it and can be found.
func Run(ctx context.Context, path string, opts Options) *Report {
	start := time.Now()
	if opts.Grace <= 0 {
		opts.Grace = process.DefaultGrace
	}
	if opts.RunTimeout <= 0 {
		opts.RunTimeout = defaultRunTimeout
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	c := &checker{path: path, opts: opts, rep: &Report{Path: path}}
	_ = proctree.SetSubreaper()
	defer func() { c.rep.Took = time.Since(start) }()
	ctx, cancel := context.WithTimeoutCause(ctx, opts.Timeout, errCheckTimeout{opts.Timeout})
	defer cancel()

	cfg, err := structpb.NewStruct(opts.Config)
	if err != nil {
		c.rep.add("config", Fail, 0, "the [plugins.%s] table cannot be sent: %v", plugins.NameOf(path), err)
		return c.rep
	}
	c.cfg = cfg
	// The leftover check runs whatever happened before: it kills what the
	// plugin left.
	defer c.leftovers()
	c.byHand(ctx)
	if stopped(ctx) || !c.handshake(ctx) {
		return c.rep
	}
	specs := c.describe()
	c.config()
	longest, longestTook := (*pluginv1.CommandSpec)(nil), time.Duration(0)
	for _, spec := range specs {
		if stopped(ctx) {
			return c.rep
		}
		took, ok := c.runExample(ctx, spec)
		if ok && took >= longestTook {
			longest, longestTook = spec, took
		}
	}
	if stopped(ctx) {
		return c.rep
	}
	c.cancel(ctx, longest, longestTook)
	if stopped(ctx) {
		return c.rep
	}
	c.graceful(ctx)
	return c.rep
}

// errCheckTimeout is the cause of a check's context when its deadline passed.
type errCheckTimeout struct{ d time.Duration }

func (e errCheckTimeout) Error() string {
	return fmt.Sprintf("the check's deadline (%s, --timeout) passed", e.d)
}

// stopped reports whether the check must end: its deadline passed or it was
// interrupted.
func stopped(ctx context.Context) bool { return ctx.Err() != nil }

// stopReason says why a step was cut short: the check's deadline, or an
// interruption (a signal), for the step's FAIL row.
func stopReason(ctx context.Context) string {
	cause := context.Cause(ctx)
	var timeout errCheckTimeout
	if errors.As(cause, &timeout) {
		return timeout.Error() + " during this step: the plugin was killed with its process tree"
	}
	return fmt.Sprintf("the check was stopped (%v) during this step: the plugin was killed with its process tree", cause)
}

// byHand starts the binary without the host's magic cookie: a plugin must
// then say what it is and exit non-zero, not wait for a host. It runs in a
// process group of its own (a Job Object on Windows), killed with its tree
// when the step ends: a child that keeps the output open must not hold the
// check.
func (c *checker) byHand(ctx context.Context) {
	const name = "refuses a start by hand"
	start := time.Now()
	sctx, cancel := context.WithTimeout(ctx, byHandTimeout)
	defer cancel()
	cmd := exec.Command(c.path)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CAJON_PLUGIN=") && !strings.HasPrefix(kv, "PLUGIN_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out := &boundedBuffer{max: byHandOutput}
	cmd.Stdout, cmd.Stderr = out, out
	// Once the binary exited, its output is read this much longer: a child
	// that inherited it may hold it open for ever.
	cmd.WaitDelay = byHandOutputWait
	g, err := proctree.Start(cmd, proctree.Options{Tag: "plugins-check-by-hand"})
	if err != nil {
		c.rep.add(name, Fail, time.Since(start), "cannot start it: %v", err)
		return
	}
	waited := make(chan error, 1)
	go func() { waited <- g.Wait() }()
	var waitErr error
	select {
	case waitErr = <-waited:
	case <-sctx.Done():
	}
	timedOut := sctx.Err() != nil
	// The step ends: nothing it started may outlive it.
	kctx, kcancel := context.WithTimeout(context.Background(), proctree.KillTimeout)
	defer kcancel()
	_ = g.Terminate(kctx, process.NoGrace)
	if timedOut {
		waitErr = <-waited
	}
	took := time.Since(start)
	msg := firstLine(out.String())
	exitCode := -1
	if cmd.ProcessState != nil {
		exitCode = cmd.ProcessState.ExitCode()
	}
	switch {
	case timedOut && stopped(ctx):
		c.rep.add(name, Fail, took, "%s", stopReason(ctx))
	case timedOut:
		c.rep.add(name, Fail, took, "still running %s after a start without CAJON_PLUGIN=cajon-plugin-v1 (killed with its process tree): check the magic cookie and exit non-zero without it", byHandTimeout)
	case errors.Is(waitErr, exec.ErrWaitDelay):
		c.rep.add(name, Fail, took, "exit status %d, but a process it started kept its output open (killed with its process tree): exit without leaving processes behind", exitCode)
	case waitErr == nil:
		c.rep.add(name, Fail, took, "exits 0 without CAJON_PLUGIN=cajon-plugin-v1: exit non-zero, with a message, when the cookie is missing")
	case msg == "":
		c.rep.add(name, Pass, took, "exit status %d (consider printing what the binary is)", exitCode)
	default:
		c.rep.add(name, Pass, took, "exit status %d: %q", exitCode, msg)
	}
}

// boundedBuffer keeps the first max bytes written to it: a binary started
// by hand may print without end.
type boundedBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (b *boundedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// handshake launches the plugin as the host does.
func (c *checker) handshake(ctx context.Context) bool {
	start := time.Now()
	l, err := plugins.Launch(ctx, c.path, c.opts.Logger, c.opts.RunDir)
	if err != nil {
		if stopped(ctx) {
			c.rep.add("handshake", Fail, time.Since(start), "%s", stopReason(ctx))
			return false
		}
		c.rep.add("handshake", Fail, time.Since(start), "%v", err)
		return false
	}
	c.plugin = l
	c.rep.add("handshake", Pass, time.Since(start), "pid %d; go-plugin protocol %d over gRPC with mTLS; Describe answered", l.PID(), wire.ProtocolVersion)
	return true
}

// describe checks the description and returns the commands to run.
func (c *checker) describe() []*pluginv1.CommandSpec {
	desc := c.plugin.Description()
	problems := describeProblems(desc, plugins.NameOf(c.path))
	// Doubtful but allowed: the host warns about them when it starts.
	warnings := ""
	if ws := plugins.DescribeWarnings(desc); len(ws) > 0 {
		warnings = "; warning: " + strings.Join(ws, "; warning: ")
	}
	if len(problems) > 0 {
		c.rep.add("describe", Fail, 0, "%s%s", strings.Join(problems, "; "), warnings)
	} else {
		params := 0
		for _, cmd := range desc.GetCommands() {
			params += len(cmd.GetParams())
		}
		sdkVersion := ""
		if v := desc.GetSdkVersion(); v != "" {
			sdkVersion = " (SDK " + v + ")"
		}
		caps := ""
		if names := plugins.CapabilityNames(plugins.CapabilitiesOf(desc)); len(names) > 0 {
			caps = "; capabilities: " + strings.Join(names, ", ")
		}
		c.rep.add("describe", Pass, 0, "%s %s%s: %d commands, %d parameters%s%s", desc.GetName(), desc.GetVersion(), sdkVersion, len(desc.GetCommands()), params, caps, warnings)
	}
	seen := map[string]bool{}
	var specs []*pluginv1.CommandSpec
	for _, cmd := range desc.GetCommands() {
		if cmd.GetName() != "" && !seen[cmd.GetName()] {
			seen[cmd.GetName()] = true
			specs = append(specs, cmd)
		}
	}
	return specs
}

// config checks the plugin's [plugins.<name>] table (Options.Config)
// against the config schema it declared, as the host does when it starts.
func (c *checker) config() {
	const name = "config"
	desc := c.plugin.Description()
	plugin := plugins.NameOf(c.path)
	schema := desc.GetConfigSchema()
	if schema == nil {
		c.rep.add(name, Pass, 0, "no config schema declared: the host passes [plugins.%s] on unchecked (declare one, and a typo in the table shows when the worker starts)", plugin)
		return
	}
	if problems := plugins.ConfigProblems(plugin, schema, c.opts.Config); len(problems) > 0 {
		c.rep.add(name, Fail, 0, "%s", strings.Join(problems, "; "))
		return
	}
	var keys []string
	for _, k := range schema.GetKeys() {
		keys = append(keys, k.GetName())
	}
	slices.Sort(keys)
	switch {
	case len(keys) == 0:
		c.rep.add(name, Pass, 0, "takes no [plugins.%s] table", plugin)
	case len(c.opts.Config) == 0:
		c.rep.add(name, Pass, 0, "[plugins.%s] accepts %s; none given", plugin, strings.Join(keys, ", "))
	default:
		c.rep.add(name, Pass, 0, "[plugins.%s] accepts %s; the table given fits", plugin, strings.Join(keys, ", "))
	}
}

// ensure returns a running plugin, starting it again if it exited.
func (c *checker) ensure(ctx context.Context) (*plugins.Launched, error) {
	if c.plugin != nil && !c.plugin.Exited() {
		return c.plugin, nil
	}
	if c.plugin != nil {
		c.plugin.Stop()
	}
	l, err := plugins.Launch(ctx, c.path, c.opts.Logger, c.opts.RunDir)
	if err != nil {
		c.plugin = nil
		return nil, fmt.Errorf("the plugin exited and does not start again: %w", err)
	}
	c.plugin = l
	return l, nil
}

// exampleOf is the parameters to run a command with: its example, or its
// defaults when nothing required lacks one; note says which. ok is false
// when there is neither, and note then says what to do.
func exampleOf(spec *pluginv1.CommandSpec) (params *structpb.Struct, note string, ok bool) {
	if ex := spec.GetExample(); ex != nil {
		return ex, "example", true
	}
	var missing []string
	for _, p := range spec.GetParams() {
		if p.GetRequired() && p.GetDefaultValue() == nil {
			missing = append(missing, p.GetName())
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Sprintf("no example, and %s required: give the command an example (CommandSpec.example; Go SDK: Command.WithExample)",
			strings.Join(missing, ", ")), false
	}
	return &structpb.Struct{}, "no example: the defaults", true
}

// runExample runs one command with its example and checks its events. ok
// reports whether it completed, and took how long.
func (c *checker) runExample(ctx context.Context, spec *pluginv1.CommandSpec) (took time.Duration, ok bool) {
	name := "run " + spec.GetName()
	params, note, runnable := exampleOf(spec)
	if !runnable {
		c.rep.add(name, Skip, 0, "%s", note)
		return 0, false
	}
	l, err := c.ensure(ctx)
	if err != nil {
		c.rep.add(name, Fail, 0, "%v", err)
		return 0, false
	}
	out := c.runOnce(ctx, l, spec, params, nil)
	status := Pass
	detail := fmt.Sprintf("%s: %s", note, out.result())
	if out.err != "" {
		status, detail = Fail, out.err
	} else if out.res.GetStatus() != pluginv1.Result_STATUS_COMPLETED {
		status = Fail
		detail += ": the example must complete on any machine"
	}
	c.rep.add(name, status, out.took, "%s", detail)
	if problems := out.events.problems; len(problems) > 0 {
		c.rep.add("events "+spec.GetName(), Fail, 0, "%s", strings.Join(problems, "; "))
	} else {
		c.rep.add("events "+spec.GetName(), Pass, 0, "%s", out.events.summary())
	}
	return out.took, status == Pass
}

// cancel runs the longest example again and cancels it at its first event
// (or half way through its earlier run): the plugin must answer canceled
// within grace + the host's margin, with the command's processes gone.
func (c *checker) cancel(ctx context.Context, spec *pluginv1.CommandSpec, took time.Duration) {
	if spec == nil {
		c.rep.add("cancel", Skip, 0, "no command completed its example, so there is none to cancel")
		return
	}
	name := "cancel " + spec.GetName()
	l, err := c.ensure(ctx)
	if err != nil {
		c.rep.add(name, Fail, 0, "%v", err)
		return
	}
	params, _, _ := exampleOf(spec)
	at := &cancelAt{after: took / 2}
	out := c.runOnce(ctx, l, spec, params, at)
	deadline := plugins.AbortDeadline(c.opts.Grace)
	switch {
	case out.stopped:
		c.rep.add(name, Fail, out.took, "%s", out.err)
	case at.err != nil:
		c.rep.add(name, Fail, out.took, "Cancel failed: %v", at.err)
	case !at.sent:
		c.rep.add(name, Skip, out.took, "the command ended before it could be canceled: give it an example that runs for a moment")
	case !at.found && out.res.GetStatus() == pluginv1.Result_STATUS_COMPLETED:
		c.rep.add(name, Skip, out.took, "the command completed before the cancel arrived (Cancel: not found)")
	case out.timedOut:
		c.rep.add(name, Fail, out.took, "no result %s after Cancel (grace %s + the host's margin): the host would kill the plugin with its tree", deadline, c.opts.Grace)
		c.killPlugin()
	case out.err != "":
		c.rep.add(name, Fail, out.took, "%s", out.err)
	case out.res.GetStatus() != pluginv1.Result_STATUS_CANCELED:
		c.rep.add(name, Fail, out.took, "answered %s to Cancel: want a canceled result", out.result())
	default:
		left := c.runProcesses(out)
		if len(left) > 0 {
			c.rep.add(name, Fail, out.took, "processes %v of the command still run after its canceled result: kill the whole tree before answering", left)
			return
		}
		c.rep.add(name, Pass, out.took, "canceled %s after Cancel (grace %s); of its %d child processes none is left",
			out.resultAt.Sub(at.sentAt).Round(time.Millisecond), c.opts.Grace, out.events.children)
	}
}

// runProcesses lists the command's processes still alive: those it reported
// and never reported ended, and those tagged with its run id.
func (c *checker) runProcesses(out *runOutcome) []int {
	deadline := time.Now().Add(leftoverWait)
	for {
		var left []int
		for pid := range out.events.started {
			if processAlive(pid) {
				left = append(left, pid)
			}
		}
		tagged, _ := proctree.Tagged(os.Getpid(), out.runID)
		left = append(left, tagged...)
		if len(left) == 0 || time.Now().After(deadline) {
			return uniqueSorted(left)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// graceful closes the plugin's lifeline: it must exit by itself within the
// time the host gives it.
func (c *checker) graceful(ctx context.Context) {
	const name = "exits when its lifeline closes"
	if c.plugin == nil || c.plugin.Exited() {
		c.rep.add(name, Skip, 0, "the plugin is not running any more")
		return
	}
	start := time.Now()
	c.plugin.CloseLifeline()
	exited := c.plugin.WaitExit(wire.ExitTime)
	took := time.Since(start)
	if exited {
		c.rep.add(name, Pass, took, "exited %s after the lifeline (%s) closed", took.Round(time.Millisecond), lifelineName())
		c.plugin.Stop()
	} else {
		c.rep.add(name, Fail, took, "still running %s after its lifeline closed: exit on EOF of %s; the host kills a plugin that does not", wire.ExitTime, lifelineName())
		c.killPlugin()
	}
	c.plugin = nil
}

// lifelineName says where a plugin finds its lifeline on this OS.
func lifelineName() string {
	if runtime.GOOS == "windows" {
		return "handle $" + wire.EnvLifelineHandle
	}
	return "fd $" + wire.EnvLifelineFD
}

func (c *checker) killPlugin() {
	if c.plugin == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c.plugin.Kill(ctx)
	c.plugin = nil
}

// leftovers: with the plugin gone, nothing it started may be alive. Its
// orphans reparented to us (a subreaper, Linux), or keep the pid of their
// dead parent (Windows), so they are our descendants.
func (c *checker) leftovers() {
	const name = "leaves no process behind"
	c.killPlugin()
	if runtime.GOOS != "linux" && runtime.GOOS != "windows" {
		c.rep.add(name, Skip, 0, "needs Linux or Windows (where the host finds the orphans among its descendants)")
		return
	}
	start := time.Now()
	var left []int
	for {
		left, _ = proctree.Descendants(os.Getpid())
		if len(left) == 0 || time.Since(start) > leftoverWait {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(left) == 0 {
		c.rep.add(name, Pass, time.Since(start), "no process of the plugin is left")
		return
	}
	var named []string
	for _, pid := range left {
		named = append(named, fmt.Sprintf("%d (%s)", pid, processName(pid)))
	}
	c.rep.add(name, Fail, time.Since(start), "still running after the plugin exited: %s; start each command's processes in a process group of their own and kill the whole tree (killed now)",
		strings.Join(named, ", "))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = proctree.KillDescendants(ctx, os.Getpid())
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}
