package plugins

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cajonfarm/cajon/host/cgroups"
	"github.com/cajonfarm/cajon/sdk/bytesize"

	"github.com/cajonfarm/cajon/sdk/proctree"
)

// Guard is what the host watches in one running command, for the node's
// sake (docs/CONFIG.md, stall_timeout and max_task_memory). The zero Guard
// only measures the command's peak memory.
type Guard struct {
	// StallTimeout aborts a command whose output and process-tree CPU time
	// have not moved for this long, as a cancel does (TERM, grace, KILL),
	// and fails it naming the stall (0 = never).
	StallTimeout time.Duration
	// MaxMemory kills a command whose process tree holds more than this many
	// bytes resident, at once (SIGKILL, as the kernel's OOM killer does),
	// and fails it saying so (0 = no cap).
	MaxMemory int64
}

// GuardInterval is how often the host samples a running command's
// processes: how far past MaxMemory a tree can grow before it is killed, and
// how late after StallTimeout a stall is seen.
const GuardInterval = 500 * time.Millisecond

// errStalled ends a run's context when its command stalled.
var errStalled = errors.New("the command stalled")

// watch guards one run: it samples the run's processes below the plugin,
// notes the run's output, and trips on a stall or on the memory cap.
type watch struct {
	guard    Guard
	inst     *instance
	runID    string
	sampler  *proctree.Sampler
	abort    context.CancelCauseFunc
	started  time.Time
	oomKills int64 // the kernel's OOM kill count about when the run started; -1 unknown
	// cg is the run's memory cgroup (nil: none): the kernel holds what the
	// plugin started in it to the cap. The watchdog's samples still apply
	// the cap to the run's whole tree, so that what is not in the cgroup
	// (an old plugin's command, a warm Blender kept between runs) is held
	// to it too; what is in it never gets past the cap for a sample to see.
	cg *cgroups.Run

	// tickMu is held by a sample in progress, so finish stops the watch
	// between samples; timer, stopped, cpu and cpuMoved are under it.
	tickMu   sync.Mutex
	timer    *time.Timer
	stopped  bool
	cpu      time.Duration // the tree's CPU time at the last sample; -1 none
	cpuMoved time.Time     // when it last changed

	mu         sync.Mutex
	lastOutput time.Time // zero: none yet
	lastLine   string
	peak       int64
	sampled    bool   // a sample succeeded
	sampleErr  error  // the first failed sample
	tripped    string // "" or the failure message for the task
	trippedBy  string // stall, max_task_memory
}

// startWatch starts guarding a run on inst; abort ends the run's context.
// oomKills is the kernel's OOM kill count about now (oomCounter); cg is the
// run's memory cgroup, nil for none.
func startWatch(inst *instance, runID string, g Guard, abort context.CancelCauseFunc, oomKills int64, cg *cgroups.Run) *watch {
	w := &watch{
		guard: g, inst: inst, runID: runID, abort: abort, started: time.Now(), cg: cg,
		sampler:  proctree.NewSampler(inst.pid, runID),
		oomKills: oomKills, cpu: -1,
	}
	w.cpuMoved = w.started
	// A timer rather than a goroutine: most commands (file commands, an
	// echo) end before the first sample and cost next to nothing.
	w.tickMu.Lock()
	w.timer = time.AfterFunc(GuardInterval, w.tick)
	w.tickMu.Unlock()
	return w
}

// tick takes one sample and arms the next one, unless the watch stopped
// or tripped.
func (w *watch) tick() {
	w.tickMu.Lock()
	defer w.tickMu.Unlock()
	if !w.stopped && w.sample() {
		w.timer.Reset(GuardInterval)
	}
}

// sample measures the run's processes once and trips on the cap or a
// stall; false when it tripped. w.tickMu is held.
func (w *watch) sample() bool {
	// A plugin that runs only this command may keep processes between
	// commands (a warm Blender) under a tag of their own: they are this
	// command's too.
	w.sampler.All = w.inst.alone()
	u, err := w.sampler.Sample()
	now := time.Now()
	w.mu.Lock()
	if err != nil {
		if w.sampleErr == nil {
			w.sampleErr = err
		}
		w.mu.Unlock()
		// Where the OS offers no way (not Linux), asking again is no use.
		return !errors.Is(err, errors.ErrUnsupported)
	}
	w.sampled = true
	w.peak = max(w.peak, u.RSS)
	switch {
	case w.cpu < 0:
		// The first sample sets the baseline: what the command used
		// before it is not known to be recent, so the quiet time counts
		// from the start.
		w.cpu = u.CPU
	case u.CPU != w.cpu:
		w.cpu, w.cpuMoved = u.CPU, now
	}
	if w.guard.MaxMemory > 0 && u.RSS > w.guard.MaxMemory {
		w.tripped = capMessage(w.peak, w.guard.MaxMemory)
		w.trippedBy = "max_task_memory"
		all := w.sampler.All
		w.mu.Unlock()
		w.killTree(all)
		w.abort(errors.New(w.tripped))
		return false
	}
	if w.guard.StallTimeout > 0 {
		last := w.cpuMoved
		if w.lastOutput.After(last) {
			last = w.lastOutput
		}
		if quiet := now.Sub(last); quiet >= w.guard.StallTimeout {
			w.tripped = w.stallMessage(now)
			w.trippedBy = "stall"
			w.mu.Unlock()
			w.abort(errStalled)
			return false
		}
	}
	w.mu.Unlock()
	return true
}

// capMessage is how a command killed over max_task_memory fails, by the
// watchdog or by the kernel in the command's cgroup.
func capMessage(peak, limit int64) string {
	return fmt.Sprintf("killed by the out-of-memory killer (max_task_memory): peak %s, limit %s", bytesize.Format(peak), bytesize.Format(limit))
}

// stallMessage names the stall, the time since the last output and the
// last line. w.mu is held.
func (w *watch) stallMessage(now time.Time) string {
	msg := fmt.Sprintf("stalled: no output and no CPU time in the command's processes for %s (stall_timeout)", w.guard.StallTimeout)
	if w.lastOutput.IsZero() {
		return msg + fmt.Sprintf("; no output at all since it started %s ago", now.Sub(w.started).Round(time.Second))
	}
	return msg + fmt.Sprintf("; last output %s ago: %q", now.Sub(w.lastOutput).Round(time.Second), w.lastLine)
}

// killTree SIGKILLs the run's processes: every descendant of the plugin
// when the run is alone in it, else those with the run's tag. The plugin
// then sees its command die as it would by the kernel's OOM killer.
func (w *watch) killTree(all bool) {
	ctx, cancel := context.WithTimeout(context.Background(), proctree.KillTimeout)
	defer cancel()
	if all {
		_ = proctree.KillDescendants(ctx, w.inst.pid)
		return
	}
	_ = proctree.KillTagged(ctx, w.inst.pid, w.runID)
}

// output notes a line or progress of the run.
func (w *watch) output(lines []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lastOutput = time.Now()
	if len(lines) > 0 {
		w.lastLine = lines[len(lines)-1]
	}
}

// finish stops the watch and turns the run's result into what the task must
// say: a stall or the memory cap fails it with its message, a process
// killed by the kernel's OOM killer is named as such, and the log ends with
// the command's peak memory. ctx is the caller's: once it has ended, the
// command was aborted, and that is what it says.
func (w *watch) finish(ctx context.Context, res Result, events Events, obs Observer, command string) Result {
	// A sample in progress ends first (a kill over the cap included).
	w.tickMu.Lock()
	w.stopped = true
	w.timer.Stop()
	w.tickMu.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	// The cgroup's peak, where the command ran in it, is the kernel's
	// count of all its memory, not one sample every GuardInterval; a
	// process outside it (a warm Blender) may still have had more.
	// (0: unknown, as on a reused v2 cgroup before Linux 6.12 whose peak
	// did not rise; the samples tell it then).
	if p := w.cg.Peak(); p > 0 {
		w.peak, w.sampled = max(w.peak, p), true
	}
	// Read only when it matters, though it is cheap: a file kept open.
	cgroupOOM := w.cg != nil && res.Status != Completed && ctx.Err() == nil && w.cg.OOMKills() > 0
	switch {
	case events == nil:
	case w.sampled:
		if pe, ok := events.(PeakEvents); ok {
			pe.PeakMemory(w.peak)
		}
	case w.sampleErr != nil && (w.guard.StallTimeout > 0 || w.guard.MaxMemory > 0):
		// stall_timeout or max_task_memory is set and did nothing: say so
		// where the admin looks.
		events.Log([]string{"cajon: stall_timeout and max_task_memory could not watch this command: " + w.sampleErr.Error()})
	}
	if obs != nil && w.sampled {
		obs.CommandMemory(command, w.peak)
	}
	if ctx.Err() != nil {
		return res
	}
	if cgroupOOM && w.tripped == "" {
		// The kernel killed a process of the command in its cgroup.
		w.tripped, w.trippedBy = capMessage(w.peak, w.guard.MaxMemory), "max_task_memory"
	}
	switch {
	case w.tripped != "":
		if res.Message != "" && w.trippedBy == "max_task_memory" {
			res.Message = w.tripped + " (the plugin said: " + res.Message + ")"
		} else {
			res.Message = w.tripped
		}
		res.Status = Failed
		if obs != nil {
			obs.CommandGuarded(command, w.trippedBy)
		}
	case res.Status == Failed && w.oomKills >= 0 && kernelOOMKills() > w.oomKills:
		peak := "unknown (it ended before its first sample)"
		if w.sampled {
			peak = bytesize.Format(w.peak)
		}
		res.Message = fmt.Sprintf("killed by the out-of-memory killer: peak %s, limit %s; the kernel killed a process while the command ran, and the plugin said: %s", peak, w.memoryLimit(), res.Message)
		if obs != nil {
			obs.CommandGuarded(command, "oom_killer")
		}
	}
	return res
}

// PeakEvents is Events that also takes the peak memory of the command's
// processes: the task runner ends the task's log with it. It is told once,
// before Run returns, where the host could measure it (Linux, a command
// that ran past its first sample).
type PeakEvents interface {
	Events
	// PeakMemory is the highest sum of the processes' resident memory, in
	// bytes, sampled every GuardInterval.
	PeakMemory(bytes int64)
}

// watchEvents passes a run's events on and tells the watch about output.
type watchEvents struct {
	to Events
	w  *watch
}

func (e watchEvents) Log(lines []string) {
	e.w.output(lines)
	if e.to != nil {
		e.to.Log(lines)
	}
}

func (e watchEvents) Progress(p Progress) {
	e.w.output(nil)
	if e.to != nil {
		e.to.Progress(p)
	}
}

func (e watchEvents) Output(o Output) {
	e.w.output(nil)
	if e.to != nil {
		e.to.Output(o)
	}
}

func (e watchEvents) Child(c ChildProcess) {
	if e.to != nil {
		e.to.Child(c)
	}
}

// oomCounter is the kernel's OOM kill count as runs start, read at most
// once per GuardInterval: a run of short commands (file commands, echo)
// does not read /proc/vmstat for each. A kill elsewhere in the last
// GuardInterval before a command started, which then failed, is taken for
// the command's.
type oomCounter struct {
	mu sync.Mutex
	at time.Time
	n  int64
}

// recent returns the count, read again when the last reading is older than
// GuardInterval.
func (c *oomCounter) recent() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := time.Now(); now.Sub(c.at) >= GuardInterval {
		c.n, c.at = kernelOOMKills(), now
	}
	return c.n
}

// kernelOOMKills is the kernel's count of OOM kills since boot
// (/proc/vmstat oom_kill, Linux 4.13+); -1 where there is none.
func kernelOOMKills() int64 {
	return procField("/proc/vmstat", "oom_kill ", 1)
}

// memoryLimit says what memory the command had: the lowest of the cap,
// the plugin's memory cgroup limit (a service's MemoryMax=, a container's
// limit), which its commands share, and the node's memory.
func (w *watch) memoryLimit() string {
	limit, what := nodeMemory(), "the node's memory"
	if n := cgroupMemoryLimit(w.inst.pid); n > 0 && (limit <= 0 || n < limit) {
		limit, what = n, "the plugin's memory cgroup"
	}
	if n := w.guard.MaxMemory; n > 0 && (limit <= 0 || n < limit) {
		limit, what = n, "max_task_memory"
	}
	return bytesize.Format(limit) + " (" + what + ")"
}

// cgroupMemoryLimit is the memory limit of pid's cgroup in bytes (cgroup v2
// memory.max, or v1 memory.limit_in_bytes); 0 when it has none or it
// cannot be read. Only the process's own cgroup is read, not its parents'.
func cgroupMemoryLimit(pid int) int64 {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		// "hierarchy-id:controllers:path"
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		var file string
		switch {
		case parts[0] == "0" && parts[1] == "":
			file = filepath.Join("/sys/fs/cgroup", parts[2], "memory.max")
		case slices.Contains(strings.Split(parts[1], ","), "memory"):
			file = filepath.Join("/sys/fs/cgroup/memory", parts[2], "memory.limit_in_bytes")
		default:
			continue
		}
		text, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		// "max" (v2), or v1's "no limit", a page-rounded huge number.
		if n, err := strconv.ParseInt(strings.TrimSpace(string(text)), 10, 64); err == nil && n > 0 && n < 1<<62 {
			return n
		}
	}
	return 0
}

// nodeMemory is the node's memory in bytes (/proc/meminfo MemTotal); 0
// where unknown.
func nodeMemory() int64 {
	return max(procField("/proc/meminfo", "MemTotal:", 1024), 0)
}

// procField reads the number after prefix on a line of a /proc file, times
// unit; -1 if there is none.
func procField(path, prefix string, unit int64) int64 {
	raw, err := os.ReadFile(path)
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, prefix); ok {
			var n int64
			if _, err := fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), &n); err == nil {
				return n * unit
			}
		}
	}
	return -1
}
