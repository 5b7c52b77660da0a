// Package cgroups gives each command the host runs a memory cgroup of its
// own, so that the kernel holds the command's whole process tree to its
// max_task_memory: it finds the node's cgroup setup (cgroup v2, or v1's
// memory controller as on hybrid systems), makes and removes a leaf cgroup
// per run with the memory limit, and reads its peak and its OOM kills.
//
// Only the cgroup filesystem is used, through a few files: no library, no
// systemd D-Bus (docs/ARCHITECTURE.md, "Node guard", says why). The
// commands' processes are started in the cgroup by the plugin
// (RunRequest.cgroup_path, sdk/proctree).
package cgroups

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
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
//	<own>/cajon-runs/<pid>/<n>-<run id>/   one per run, with its limit
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

// Close removes this process's folder of runs (its runs were removed as
// they ended) and the runs folder when no other worker uses it. The worker
// stays in its leaf.
func (m *Manager) Close() error {
	err := os.Remove(m.mine)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing %s: %w", m.mine, err)
	}
	_ = os.Remove(m.runs) // busy while another worker has runs there
	return nil
}

// safeName keeps a run id's cgroup name to letters, digits, '.', '_', '-'.
var safeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// maxNameLen bounds the run id's part of a run's cgroup name.
const maxNameLen = 64

// Create makes the cgroup of one run with limit bytes of memory (> 0) and
// no swap beyond it. Remove it when the run's processes are gone.
func (m *Manager) Create(runID string, limit int64) (*Run, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("memory cgroup for run %q: limit %d must be positive", runID, limit)
	}
	name := safeName.ReplaceAllString(runID, "_")
	if len(name) > maxNameLen {
		name = name[:maxNameLen]
	}
	dir := filepath.Join(m.mine, strconv.FormatInt(m.seq.Add(1), 10)+"-"+name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("making the memory cgroup of run %q: %w", runID, err)
	}
	r := &Run{v2: m.v2, dir: dir, limit: limit}
	if err := r.setLimit(m.swap); err != nil {
		_ = os.Remove(dir)
		return nil, fmt.Errorf("memory cgroup of run %q: %w", runID, err)
	}
	return r, nil
}

// Run is the memory cgroup of one run.
type Run struct {
	v2    bool
	dir   string
	limit int64
}

func (r *Run) setLimit(swap bool) error {
	n := []byte(strconv.FormatInt(r.limit, 10))
	if r.v2 {
		if err := writeFile(r.dir, "memory.max", n); err != nil {
			return err
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
	if err := writeFile(r.dir, "memory.limit_in_bytes", n); err != nil {
		return err
	}
	if swap {
		// memory + swap, at the same value: no swap at all. (It must not
		// be below memory.limit_in_bytes, so it is set second.)
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
// memory.max_usage_in_bytes, v2 memory.peak from Linux 5.19); 0 where it
// is unknown.
func (r *Run) Peak() int64 {
	if r == nil {
		return 0
	}
	f := "memory.max_usage_in_bytes"
	if r.v2 {
		f = "memory.peak"
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(readString(filepath.Join(r.dir, f))), 10, 64)
	return n
}

// OOMKills is how many processes the kernel's OOM killer killed in the run
// (oom_kill in v2 memory.events, v1 memory.oom_control from Linux 4.13).
func (r *Run) OOMKills() int64 {
	if r == nil {
		return -1
	}
	f := "memory.oom_control"
	if r.v2 {
		f = "memory.events"
	}
	return field(readString(filepath.Join(r.dir, f)), "oom_kill")
}

// Populated is true while a process is in the run's cgroup: the plugin
// started the command in it.
func (r *Run) Populated() bool {
	if r == nil {
		return false
	}
	if r.v2 {
		return field(readString(filepath.Join(r.dir, "cgroup.events")), "populated") > 0
	}
	return strings.TrimSpace(readString(filepath.Join(r.dir, "cgroup.procs"))) != ""
}

// Remove removes the run's cgroup once its processes are gone, killing
// those that outlive the run after a moment; it gives up when ctx ends.
func (r *Run) Remove(ctx context.Context) error { return removeCgroup(ctx, r.dir) }

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
func field(s, key string) int64 {
	for _, line := range strings.Split(s, "\n") {
		if rest, ok := strings.CutPrefix(line, key+" "); ok {
			if n, err := strconv.ParseInt(strings.TrimSpace(rest), 10, 64); err == nil {
				return n
			}
		}
	}
	return -1
}
