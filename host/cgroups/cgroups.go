// Package cgroups gives each command the host runs a memory cgroup of its
// own, so that the kernel holds the command's whole process tree to its
// max_task_memory: it finds the node's cgroup setup (cgroup v2, or v1's
// memory controller as on hybrid systems), gives each run a leaf cgroup with
// the memory limit, kept empty between runs for the next ones, and reads its
// peak and its OOM kills.
//
// Only the cgroup filesystem is used, through a few files: no library, no
// systemd D-Bus (docs/ARCHITECTURE.md, "Node guard", says why). The
// commands' processes are started in the cgroup by the plugin
// (RunRequest.cgroup_path, sdk/proctree).
package cgroups

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Layout below the worker's own cgroup:
//
//	<own>/worker/             the worker's processes (cgroup v2 only: a
//	                          cgroup with children may hold no process)
//	<own>/cajon-runs/<pid>/   one per worker process, so that workers
//	                          sharing a cgroup never touch each other's runs
//	<own>/cajon-runs/<pid>/<n>/   one per run at a time, with its limit;
//	                          kept empty between runs for the next ones
const (
	workerLeaf = "worker"
	runsDir    = "cajon-runs"
)

// Env is where Open looks: the files of /proc, replaceable by tests.
type Env struct {
	// Cgroup and Mountinfo are /proc/self/cgroup and /proc/self/mountinfo.
	Cgroup, Mountinfo string
	// Pid is this process's pid, which names its folder of runs.
	Pid int
}

// SelfEnv is this process's Env.
func SelfEnv() Env {
	return Env{Cgroup: "/proc/self/cgroup", Mountinfo: "/proc/self/mountinfo", Pid: os.Getpid()}
}

// Manager makes the memory cgroups of one worker process's runs.
type Manager struct {
	pid  int // this process's
	v2   bool
	own  string // the worker's own memory cgroup directory
	runs string // <own>/cajon-runs
	mine string // <own>/cajon-runs/<pid>
	swap bool   // the swap limit file exists (v1 memsw, v2 memory.swap.max)
	seq  atomic.Int64

	mu     sync.Mutex
	idle   []*Run // empty cgroups of ended runs, for the next ones
	closed bool   // by Close: no more idle ones are kept

	// Swept says what Open removed of dead workers' runs ("" = nothing).
	Swept string
}

// Open finds this process's memory cgroup and prepares it for runs. It
// returns an error that says why not when the node has no memory cgroup this
// process may manage (no memory controller, not delegated or not writable,
// not Linux); the host's watchdog then enforces max_task_memory alone. It
// removes what dead worker processes left below the same cgroup.
//
// On cgroup v2 it moves this process into the leaf <own>/worker and enables
// the memory controller for <own>'s children: the "no internal processes"
// rule allows no other way. It does that only when the process is alone in
// its cgroup (under systemd: Delegate=yes).
func Open(ctx context.Context, env Env) (*Manager, error) {
	if runtime.GOOS != "linux" {
		return nil, fmt.Errorf("cgroups are Linux's; this is %s", runtime.GOOS)
	}
	raw, err := os.ReadFile(env.Cgroup)
	if err != nil {
		return nil, fmt.Errorf("reading this process's cgroups: %w", err)
	}
	ms, err := ParseMemberships(raw)
	if err != nil {
		return nil, err
	}
	raw, err = os.ReadFile(env.Mountinfo)
	if err != nil {
		return nil, fmt.Errorf("reading the mounts: %w", err)
	}
	mounts, err := ParseMountinfo(raw)
	if err != nil {
		return nil, err
	}
	loc, err := Locate(ms, mounts)
	if err != nil {
		return nil, err
	}
	own := loc.Dir
	if loc.V2 && filepath.Base(own) == workerLeaf && exists(filepath.Join(filepath.Dir(own), runsDir)) {
		// This process was moved into the leaf already (an earlier Open).
		own = filepath.Dir(own)
	}
	m := &Manager{pid: env.Pid, v2: loc.V2, own: own, runs: filepath.Join(own, runsDir)}
	m.mine = filepath.Join(m.runs, strconv.Itoa(env.Pid))
	if m.v2 {
		err = m.prepareV2()
	} else {
		err = m.prepareV1()
	}
	if err != nil {
		return nil, err
	}
	m.Swept = m.sweep(ctx, env.Pid)
	if err := os.MkdirAll(m.mine, 0o755); err != nil {
		return nil, m.notWritable(err)
	}
	if m.v2 {
		if err := enableMemory(m.mine); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// String says which cgroup the runs are made in, for the worker's log.
func (m *Manager) String() string {
	if m.v2 {
		return "cgroup v2 at " + m.own
	}
	return "cgroup v1 memory controller at " + m.own
}

func (m *Manager) notWritable(err error) error {
	v := "cgroup v1 memory controller"
	if m.v2 {
		v = "cgroup v2"
	}
	return fmt.Errorf("the %s at %s is not writable: %w", v, m.own, err)
}

func (m *Manager) prepareV1() error {
	if _, err := os.Stat(filepath.Join(m.own, "memory.limit_in_bytes")); err != nil {
		return fmt.Errorf("the cgroup v1 memory controller at %s: %w", m.own, err)
	}
	if err := os.MkdirAll(m.runs, 0o755); err != nil {
		return m.notWritable(err)
	}
	m.swap = exists(filepath.Join(m.own, "memory.memsw.limit_in_bytes"))
	return nil
}

func (m *Manager) prepareV2() error {
	ctrl, err := os.ReadFile(filepath.Join(m.own, "cgroup.controllers"))
	if err != nil {
		return fmt.Errorf("cgroup v2 at %s: %w", m.own, err)
	}
	if !hasWord(string(ctrl), "memory") {
		return fmt.Errorf("cgroup v2 at %s has no memory controller (cgroup.controllers: %q; the parent cgroup must delegate it: Delegate=yes in a systemd unit)", m.own, strings.TrimSpace(string(ctrl)))
	}
	// The hierarchy's root (no cgroup.type) may hold processes and
	// children at once; any other cgroup must first be emptied into a leaf.
	if !hasWord(readString(filepath.Join(m.own, "cgroup.subtree_control")), "memory") {
		if exists(filepath.Join(m.own, "cgroup.type")) {
			if err := m.moveIntoLeaf(); err != nil {
				return err
			}
		}
		if err := enableMemory(m.own); err != nil {
			return m.notWritable(err)
		}
	}
	if err := os.MkdirAll(m.runs, 0o755); err != nil {
		return m.notWritable(err)
	}
	if err := enableMemory(m.runs); err != nil {
		return m.notWritable(err)
	}
	m.swap = exists(filepath.Join(m.own, "memory.swap.max")) || exists(filepath.Join(m.runs, "memory.swap.max"))
	return nil
}

// moveIntoLeaf moves the worker into <own>/worker. It does so only when the
// worker is alone in its cgroup, as under systemd with Delegate=yes (the
// unit's cgroup holds its main process): a cgroup shared with other
// processes (a login session's, a container's with its init) is not the
// worker's to divide.
func (m *Manager) moveIntoLeaf() error {
	self := strconv.Itoa(m.pid)
	var others []string
	for _, p := range strings.Fields(readString(filepath.Join(m.own, "cgroup.procs"))) {
		if p != self {
			others = append(others, p)
		}
	}
	if len(others) > 0 {
		return fmt.Errorf("cgroup v2 at %s holds other processes than the worker (%s), so it is not the worker's to divide: run the worker in a cgroup of its own with Delegate=yes (the systemd unit, or systemd-run -p Delegate=yes)", m.own, strings.Join(others, " "))
	}
	leaf := filepath.Join(m.own, workerLeaf)
	if err := os.MkdirAll(leaf, 0o755); err != nil {
		return m.notWritable(err)
	}
	if err := os.WriteFile(filepath.Join(leaf, "cgroup.procs"), []byte(self), 0o644); err != nil {
		return fmt.Errorf("moving the worker into %s (it must leave its own cgroup before its runs get theirs): %w", leaf, err)
	}
	return nil
}

// enableMemory turns the memory controller on for dir's children.
func enableMemory(dir string) error {
	f := filepath.Join(dir, "cgroup.subtree_control")
	if hasWord(readString(f), "memory") {
		return nil
	}
	if err := os.WriteFile(f, []byte("+memory"), 0o644); err != nil {
		return fmt.Errorf("enabling the memory controller in %s: %w", f, err)
	}
	return nil
}

// sweep removes the runs of worker processes that are gone (a crash, a
// kill -9), killing what is left in them, and says what it removed.
func (m *Manager) sweep(ctx context.Context, self int) string {
	entries, err := os.ReadDir(m.runs)
	if err != nil {
		return ""
	}
	var gone []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if !e.IsDir() || err != nil || pid == self || exists("/proc/"+e.Name()) {
			continue
		}
		dir := filepath.Join(m.runs, e.Name())
		runs, _ := os.ReadDir(dir)
		for _, r := range runs {
			if r.IsDir() {
				if removeCgroup(ctx, filepath.Join(dir, r.Name())) == nil {
					gone = append(gone, filepath.Join(e.Name(), r.Name()))
				}
			}
		}
		_ = os.Remove(dir)
	}
	if len(gone) == 0 {
		return ""
	}
	return fmt.Sprintf("removed %d run cgroup(s) of worker processes that are gone: %s", len(gone), strings.Join(gone, ", "))
}

// Close removes the idle cgroups, this process's folder of runs (the runs
// release theirs as they end) and the runs folder when no other worker uses
// it. The worker stays in its leaf.
func (m *Manager) Close() error {
	m.mu.Lock()
	m.closed = true
	idle := m.idle
	m.idle = nil
	m.mu.Unlock()
	var errs []error
	for _, r := range idle {
		if err := r.discard(context.Background()); err != nil {
			errs = append(errs, err)
		}
	}
	err := os.Remove(m.mine)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, fmt.Errorf("removing %s: %w", m.mine, err))
	}
	_ = os.Remove(m.runs) // busy while another worker has runs there
	return errors.Join(errs...)
}

// maxIdle bounds the idle run cgroups a Manager keeps for the next runs.
// A cgroup is made only when none is idle, so the pool never holds more than
// the most runs that were ever at once; this bounds it on a node that once
// ran many (each holds three open files and a little kernel memory).
const maxIdle = 8

// removeTimeout bounds the removal of a run's cgroup: its processes are
// gone when the run ends, and what is left is killed.
const removeTimeout = 10 * time.Second

// Acquire gives a run its memory cgroup, with limit bytes of memory (> 0)
// and no swap beyond it: an idle one from an earlier run when there is one,
// its peak and OOM kill count started afresh, else a new one. Release it
// when the run's processes are gone.
//
// Reuse is what makes a cap cheap: making and removing a v1 memory cgroup
// costs ~150 µs of kernel time, reusing one a few system calls. The page
// cache an earlier run left charged to the cgroup stays charged to it: the
// kernel reclaims it before it OOM-kills, so it kills nothing, but it may
// count in the peak (docs/ARCHITECTURE.md, "Node guard").
func (m *Manager) Acquire(ctx context.Context, runID string, limit int64) (*Run, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("memory cgroup for run %q: limit %d must be positive", runID, limit)
	}
	if r := m.takeIdle(); r != nil {
		err := r.reuse(limit, m.swap)
		if err == nil {
			return r, nil
		}
		// Not used again: v1 refuses a limit below what the cgroup holds
		// when it cannot reclaim enough.
		if rerr := r.discard(ctx); rerr != nil {
			return nil, fmt.Errorf("memory cgroup of run %q: reusing %s: %v; removing it: %w", runID, r.dir, err, rerr)
		}
	}
	return m.create(runID, limit)
}

func (m *Manager) takeIdle() *Run {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := len(m.idle)
	if n == 0 {
		return nil
	}
	// The latest released: its memory is the likeliest still cached.
	r := m.idle[n-1]
	m.idle[n-1] = nil
	m.idle = m.idle[:n-1]
	return r
}

// putIdle keeps r for a later run; false when the pool is full or closed.
func (m *Manager) putIdle(r *Run) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || len(m.idle) >= maxIdle {
		return false
	}
	m.idle = append(m.idle, r)
	return true
}

func (m *Manager) create(runID string, limit int64) (*Run, error) {
	// Named by number only: the cgroup outlives the run it was made for.
	dir := filepath.Join(m.mine, strconv.FormatInt(m.seq.Add(1), 10))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("making the memory cgroup of run %q: %w", runID, err)
	}
	r := &Run{m: m, v2: m.v2, dir: dir, limit: limit}
	if err := r.setLimit(m.swap, 0); err != nil {
		_ = os.Remove(dir)
		return nil, fmt.Errorf("memory cgroup of run %q: %w", runID, err)
	}
	r.open()
	return r, nil
}

// Run is the memory cgroup of one run, from Acquire to Release.
type Run struct {
	m     *Manager
	v2    bool
	dir   string
	limit int64

	// The files read on every run stay open while the cgroup lives:
	// reading an open cgroupfs file costs ~1 µs, opening it ~13 µs. nil
	// where a file could not be opened (a kernel without it).
	peakF  *os.File // v1 memory.max_usage_in_bytes, v2 memory.peak
	oomF   *os.File // v1 memory.oom_control, v2 memory.events
	procsF *os.File // v1 cgroup.procs, v2 cgroup.events
	// noReset is set once writing to peakF failed (v2 before Linux 6.12).
	noReset bool
	// peakBefore is the peak when the run began: 0 for a new cgroup; on a
	// reused one, after a reset the usage left by earlier runs, else their
	// peak. The run's peak is known only when it rises above it.
	peakBefore int64
	oomBefore  int64 // the OOM kill count when the run began
}

// open opens the files read on every run.
func (r *Run) open() {
	peak, oom, procs := "memory.max_usage_in_bytes", "memory.oom_control", "cgroup.procs"
	if r.v2 {
		peak, oom, procs = "memory.peak", "memory.events", "cgroup.events"
	}
	var err error
	r.peakF, err = os.OpenFile(filepath.Join(r.dir, peak), os.O_RDWR, 0)
	// Read-only (v2 before Linux 6.12, not root): it cannot be reset.
	if r.noReset = err != nil; r.noReset {
		r.peakF, _ = os.Open(filepath.Join(r.dir, peak))
	}
	r.oomF, _ = os.Open(filepath.Join(r.dir, oom))
	r.procsF, _ = os.Open(filepath.Join(r.dir, procs))
}

// reuse readies an idle cgroup for a run with limit: the limit where it
// differs, its peak and OOM kill count started afresh.
func (r *Run) reuse(limit int64, swap bool) error {
	if limit != r.limit {
		old := r.limit
		r.limit = limit
		if err := r.setLimit(swap, old); err != nil {
			return err
		}
	}
	if r.peakF != nil && !r.noReset && r.resetPeak() != nil {
		r.noReset = true // v2 before Linux 6.12
	}
	// After a reset, what the earlier runs left charged (page cache); else
	// their peak. A run whose peak is not above it started nothing in the
	// cgroup that the peak could tell.
	r.peakBefore = r.readPeak()
	var buf [readBuf]byte
	r.oomBefore = max(0, field(readAt(r.oomF, buf[:]), "oom_kill"))
	return nil
}

// resetPeak starts the peak afresh from the current usage: v1 on any
// write, v2 (Linux 6.12+) for reads through this open file.
func (r *Run) resetPeak() error {
	data := "0"
	if r.v2 {
		data = "reset"
	}
	_, err := r.peakF.WriteAt([]byte(data), 0)
	return err
}

// setLimit writes r.limit; old is the limit the cgroup had (0: a new one,
// with none).
func (r *Run) setLimit(swap bool, old int64) error {
	n := []byte(strconv.FormatInt(r.limit, 10))
	if r.v2 {
		if err := writeFile(r.dir, "memory.max", n); err != nil {
			return err
		}
		if old > 0 {
			return nil // no swap and oom.group are set already
		}
		if swap {
			if err := writeFile(r.dir, "memory.swap.max", []byte("0")); err != nil {
				return err
			}
		}
		// The OOM killer takes the whole command, as the watchdog does,
		// not one process of it that the others then wait for.
		if exists(filepath.Join(r.dir, "memory.oom.group")) {
			return writeFile(r.dir, "memory.oom.group", []byte("1"))
		}
		return nil
	}
	// v1 keeps memory+swap (memsw) at the memory limit: no swap at all. It
	// refuses memsw below memory.limit_in_bytes, so memsw goes first when
	// the limit rises and second otherwise (a new cgroup has no limits).
	if swap && old > 0 && r.limit > old {
		if err := writeFile(r.dir, "memory.memsw.limit_in_bytes", n); err != nil {
			return err
		}
		return writeFile(r.dir, "memory.limit_in_bytes", n)
	}
	if err := writeFile(r.dir, "memory.limit_in_bytes", n); err != nil {
		return err
	}
	if swap {
		return writeFile(r.dir, "memory.memsw.limit_in_bytes", n)
	}
	return nil
}

// Path is the run's cgroupfs directory, for RunRequest.cgroup_path; "" for
// a nil Run (no cgroup).
func (r *Run) Path() string {
	if r == nil {
		return ""
	}
	return r.dir
}

// Limit is the run's memory limit in bytes.
func (r *Run) Limit() int64 { return r.limit }

// A nil *Run is no cgroup: no peak, no OOM kills, never populated.

// Peak is the most memory the run's processes were charged at once (v1
// memory.max_usage_in_bytes, v2 memory.peak from Linux 5.19), with what
// an earlier run left charged to the cgroup (its page cache); 0 where it
// is unknown (the watchdog's samples then tell it): no such file, a peak
// that did not rise above peakBefore (nothing started in the cgroup, or on
// a reused v2 cgroup before Linux 6.12 a run below the earlier runs' peak).
func (r *Run) Peak() int64 {
	if r == nil {
		return 0
	}
	n := r.readPeak()
	if n <= r.peakBefore {
		return 0
	}
	return n
}

func (r *Run) readPeak() int64 {
	var buf [readBuf]byte
	return max(0, parseInt(readAt(r.peakF, buf[:])))
}

// OOMKills is how many processes the kernel's OOM killer killed in the run
// (oom_kill in v2 memory.events, v1 memory.oom_control from Linux 4.13);
// -1 where that is unknown.
func (r *Run) OOMKills() int64 {
	if r == nil {
		return -1
	}
	var buf [readBuf]byte
	n := field(readAt(r.oomF, buf[:]), "oom_kill")
	if n < 0 {
		return -1
	}
	return n - r.oomBefore
}

// Populated is true while a process is in the run's cgroup: the plugin
// started the command in it.
func (r *Run) Populated() bool {
	if r == nil {
		return false
	}
	var buf [readBuf]byte
	b := readAt(r.procsF, buf[:])
	if r.v2 {
		return field(b, "populated") != 0 // -1, unreadable, counts as populated
	}
	return r.procsF == nil || len(bytes.TrimSpace(b)) > 0
}

// Release ends the run's use of its cgroup: an empty one is kept for a
// later run (up to maxIdle), one that still holds processes is removed,
// killing those that outlive the run after a moment; it gives up when ctx
// ends or after removeTimeout (10 s).
func (r *Run) Release(ctx context.Context) error {
	if r == nil {
		return nil
	}
	if !r.Populated() && r.m.putIdle(r) {
		return nil
	}
	return r.discard(ctx)
}

// discard closes the cgroup's files and removes it, within removeTimeout.
func (r *Run) discard(ctx context.Context) error {
	r.discardFiles()
	// Bounded here, not by the callers: most runs end without a removal,
	// and a timer per run would cost more than the pool saves.
	ctx, cancel := context.WithTimeout(ctx, removeTimeout)
	defer cancel()
	return removeCgroup(ctx, r.dir)
}

func (r *Run) discardFiles() {
	for _, f := range []*os.File{r.peakF, r.oomF, r.procsF} {
		if f != nil {
			_ = f.Close()
		}
	}
	r.peakF, r.oomF, r.procsF = nil, nil, nil
}

// killAfter is how long a run's cgroup may keep processes after the run
// before they are killed: the plugin has killed the tree by then, and a
// process on its way out leaves within it.
const killAfter = 200 * time.Millisecond

func removeCgroup(ctx context.Context, dir string) error {
	start := time.Now()
	delay := time.Millisecond
	for {
		// rmdir itself: os.Remove tries unlink first, a wasted system
		// call on every command.
		err := syscall.Rmdir(dir)
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if time.Since(start) > killAfter {
			for _, p := range strings.Fields(readString(filepath.Join(dir, "cgroup.procs"))) {
				// v1 lists a process when one of its threads is in the
				// cgroup: a plugin starting a command from a thread
				// there must not be taken for one of the command's.
				if pid, perr := strconv.Atoi(p); perr == nil && pid > 0 && mainThreadIn(pid, dir) {
					if proc, ferr := os.FindProcess(pid); ferr == nil {
						_ = proc.Kill()
					}
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("removing cgroup %s (processes: %s): %w", dir, strings.Join(strings.Fields(readString(filepath.Join(dir, "cgroup.procs"))), " "), err)
		case <-time.After(delay):
		}
		delay = min(2*delay, 50*time.Millisecond)
	}
}

// mainThreadIn is true when process pid itself (its main thread) is in the
// cgroup dir.
func mainThreadIn(pid int, dir string) bool {
	for _, line := range strings.Split(readString("/proc/"+strconv.Itoa(pid)+"/cgroup"), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && parts[2] != "/" && strings.HasSuffix(dir, parts[2]) {
			return true
		}
	}
	return false
}

func writeFile(dir, name string, data []byte) error {
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		return fmt.Errorf("setting %s: %w", name, err)
	}
	return nil
}

// readBuf holds what is read of a cgroup file kept open: its counters are
// in the first lines (memory.events is the longest, ~120 bytes; of
// cgroup.procs only whether it is empty matters).
const readBuf = 256

func readString(path string) string {
	raw, _ := os.ReadFile(path)
	return string(raw)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// hasWord is true when s has word among its space-separated words.
func hasWord(s, word string) bool {
	for _, w := range strings.Fields(s) {
		if w == word {
			return true
		}
	}
	return false
}

// field reads "key value" lines (memory.events, memory.oom_control); -1
// when key is not there.
func field(b []byte, key string) int64 {
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if len(line) > len(key) && line[len(key)] == ' ' && string(line[:len(key)]) == key {
			return parseInt(line[len(key)+1:])
		}
	}
	return -1
}

// parseInt is the decimal number b holds, spaces around it allowed; -1 for
// none. (strconv would need a string, made anew on every read.)
func parseInt(b []byte) int64 {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || len(b) > 18 {
		return -1
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int64(c-'0')
	}
	return n
}
