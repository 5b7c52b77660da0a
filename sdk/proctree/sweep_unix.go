//go:build unix

package proctree

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// procInfo is one process in a snapshot of the process table.
type procInfo struct {
	pid, ppid, pgid int
	start           uint64 // start time in OS-specific units; 0 if unknown
	zombie          bool   // exited but not yet reaped (counts as gone)
}

func (p procInfo) key() procKey { return procKey{pid: p.pid, start: p.start} }

// Start starts cmd, an *exec.Cmd prepared by the caller and not yet started,
// contained: in its own process group, with CAJON_RUN_ID=<opts.Tag> in its
// environment and, on Linux, with SIGKILL as its parent-death signal. The
// parent-death signal fires when the OS thread that started the leader exits,
// so Start runs cmd.Start on a locked OS thread that is kept until Wait
// returns: the caller must call Group.Wait (not cmd.Wait).
//
// A SysProcAttr set by the caller is kept; Start only adds the process group
// (unless Setsid is set, which makes a new group too) and, on Linux, a
// Pdeathsig if none is set.
func Start(cmd *exec.Cmd, opts Options) (*Group, error) {
	if cmd.Process != nil {
		return nil, fmt.Errorf("start %s: command already started", cmd.Path)
	}
	cmd.Env = taggedEnv(cmd.Environ(), opts.Tag)
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	if !cmd.SysProcAttr.Setsid {
		cmd.SysProcAttr.Setpgid = true
		cmd.SysProcAttr.Pgid = 0
	}
	setDeathSignal(cmd.SysProcAttr)

	g := &Group{cmd: cmd, tag: opts.Tag, waitDone: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		joinErr, tainted, err := startInCgroup(cmd, opts.Cgroup)
		g.cgroupErr = joinErr
		started <- err
		if err == nil {
			<-g.waitDone
		}
		if !tainted {
			// A thread left in the run's cgroup ends with this goroutine
			// instead.
			runtime.UnlockOSThread()
		}
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	g.pid = cmd.Process.Pid
	// The leader is our unreaped child, so its pid cannot be reused yet and
	// its start time identifies it.
	leader, _ := procState(g.pid)
	g.sys = groupSys{s: sweeper{
		leader: procKey{pid: g.pid, start: leader.start},
		pgid:   g.pid,
		tag:    opts.Tag,
	}}
	return g, nil
}

// groupSys is the Unix side of a Group: a sweeper plus the signals.
type groupSys struct {
	mu         sync.Mutex
	s          sweeper
	inGroup    map[procKey]bool // live members in the process group, as of the last sweep
	groupAsked bool
}

func (gs *groupSys) sweep() ([]procKey, error) {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	res, err := gs.s.sweep()
	gs.inGroup = res.inGroup
	return res.live, err
}

// ask sends SIGTERM (then SIGCONT, so a stopped process can act on it). The
// process group gets one group-wide signal; members outside it, and members
// that joined it after that signal, get their own.
func (gs *groupSys) ask(keys []procKey) {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	skipGroup := false
	if !gs.groupAsked && !gs.s.done && (len(gs.inGroup) > 0 || len(keys) == 0) {
		gs.groupAsked = true
		skipGroup = true
		_ = unix.Kill(-gs.s.pgid, unix.SIGTERM)
		_ = unix.Kill(-gs.s.pgid, unix.SIGCONT)
	}
	for _, k := range keys {
		if skipGroup && gs.inGroup[k] {
			continue
		}
		_ = signalProc(k, unix.SIGTERM)
		_ = signalProc(k, unix.SIGCONT)
	}
}

// kill sends SIGKILL to the process group and to every given member.
func (gs *groupSys) kill(keys []procKey) {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	if !gs.s.done && (len(gs.inGroup) > 0 || len(keys) == 0) {
		_ = unix.Kill(-gs.s.pgid, unix.SIGKILL)
	}
	for _, k := range keys {
		_ = signalProc(k, unix.SIGKILL)
	}
}

func (gs *groupSys) release() {}

// unasked is false on Unix: a signal always reaches the processes.
func (gs *groupSys) unasked() bool { return false }

// sweeper finds the members of one group in snapshots of the process table
// and reaps those of its members that are orphaned zombies of ours.
type sweeper struct {
	leader procKey
	pgid   int    // 0: no process group to match
	tag    string // "": no environment tag to match
	// seen holds every member found so far, mapped to whether it is
	// provably not a child this process started (seen with another parent,
	// or tagged by a member): once it is our child, it is an orphan and
	// safe to reap.
	seen   map[procKey]bool
	tagged map[procKey]bool // environment check results, per process
	// done is set once the group is empty and its leader reaped: then the
	// group can never gain a member again and its process group id may be
	// reused by someone else, so it must not be matched any more.
	done bool
}

type sweepResult struct {
	live    []procKey
	inGroup map[procKey]bool
}

func (s *sweeper) sweep() (sweepResult, error) {
	var res sweepResult
	if s.done {
		return res, nil
	}
	procs, err := listProcs()
	if err != nil {
		return res, fmt.Errorf("list processes: %w", err)
	}
	self := os.Getpid()
	children := make(map[int][]int, len(procs))
	for i, p := range procs {
		children[p.ppid] = append(children[p.ppid], i)
	}

	// A member is "proven" not to be a child this process started (see the
	// package doc) if it is not the leader and was found through the
	// process group, the tag, or descent from another member, or has a
	// parent other than us.
	member := make([]bool, len(procs))
	proven := make([]bool, len(procs))
	queue := make([]int, 0, 16)
	add := func(i int, proof bool) {
		if !member[i] {
			member[i] = true
			queue = append(queue, i)
		}
		proven[i] = proven[i] || proof
	}
	// The tag proves nothing if this process carries it itself: then the
	// children it starts carry it too.
	tagProves := s.tag != "" && os.Getenv(TagEnv) != s.tag
	leaderPresent := false
	for i, p := range procs {
		k := p.key()
		if k == s.leader {
			leaderPresent = true
			add(i, false)
			continue
		}
		inGroup := s.pgid > 0 && p.pgid == s.pgid
		if _, ok := s.seen[k]; ok || inGroup {
			add(i, inGroup && p.pid != s.pgid)
		}
	}
	// The environment tag is only looked for below this process: reading
	// the environment of strangers is neither needed nor always allowed.
	var tagged map[procKey]bool
	if s.tag != "" {
		tagged = make(map[procKey]bool)
		forEachDescendant(procs, children, self, func(i int) {
			p := procs[i]
			if member[i] || p.zombie {
				return
			}
			k := p.key()
			has, ok := s.tagged[k]
			if !ok {
				var sure bool
				if has, sure = environHasTag(p.pid, s.tag, false); !sure {
					return // unreadable right now; try again next sweep
				}
			}
			tagged[k] = has
			if has {
				add(i, tagProves)
			}
		})
	}
	for len(queue) > 0 {
		i := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		for _, c := range children[procs[i].pid] {
			add(c, true)
		}
	}

	seen := make(map[procKey]bool, len(s.seen))
	res.inGroup = make(map[procKey]bool)
	for i, p := range procs {
		if !member[i] {
			continue
		}
		k := p.key()
		orphan := p.pid != s.leader.pid && (s.seen[k] || proven[i] || p.ppid != self)
		if p.zombie {
			if orphan && p.ppid == self && reap(p.pid) {
				continue
			}
			seen[k] = orphan // keep it: it may become reapable once reparented
			continue
		}
		seen[k] = orphan
		res.live = append(res.live, k)
		if s.pgid > 0 && p.pgid == s.pgid {
			res.inGroup[k] = true
		}
	}
	s.seen = seen
	s.tagged = tagged
	if len(res.live) == 0 && !leaderPresent {
		s.done = true
	}
	return res, nil
}

// forEachDescendant calls fn with the index of every descendant of root.
func forEachDescendant(procs []procInfo, children map[int][]int, root int, fn func(i int)) {
	stack := append([]int(nil), children[root]...)
	visited := make(map[int]bool, len(stack))
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if visited[i] {
			continue
		}
		visited[i] = true
		fn(i)
		stack = append(stack, children[procs[i].pid]...)
	}
}

// reap waits for the zombie child pid without blocking. It reports whether
// the child is gone.
func reap(pid int) bool {
	var ws unix.WaitStatus
	got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
	return got == pid || errors.Is(err, unix.ECHILD)
}

// Descendants returns the pids of all live descendants of pid, sorted.
func Descendants(pid int) ([]int, error) {
	procs, err := listProcs()
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	children := make(map[int][]int, len(procs))
	for i, p := range procs {
		children[p.ppid] = append(children[p.ppid], i)
	}
	var out []int
	forEachDescendant(procs, children, pid, func(i int) {
		if !procs[i].zombie {
			out = append(out, procs[i].pid)
		}
	})
	sort.Ints(out)
	return out, nil
}

// KillTree SIGKILLs pid and all its descendants, sweeping again until none is
// left. Descendants that were seen once stay targets after their parent died
// and they were reparented. It gives up when ctx is done or after a few
// seconds, returning an error that lists the survivors. Zombies of the tree
// that are orphaned children of ours are reaped; pid itself is not (whoever
// started it waits for it).
func KillTree(ctx context.Context, pid int) error {
	root, ok := procState(pid)
	if !ok || root.zombie {
		return nil // already gone, and its children went to a reaper
	}
	s := sweeper{leader: root.key()}
	deadline := time.Now().Add(KillTimeout)
	delay := newPollDelay()
	for {
		res, err := s.sweep()
		if err == nil && len(res.live) == 0 {
			return nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("kill process tree of pid %d: %w", pid, err)
			}
			return fmt.Errorf("kill process tree of pid %d: processes %s survived SIGKILL; "+
				"they are probably stuck in the kernel (uninterruptible I/O)", pid, formatPids(pidsOf(res.live)))
		}
		for _, k := range res.live {
			_ = signalProc(k, unix.SIGKILL)
		}
		select {
		case <-ctx.Done():
		case <-time.After(delay.next()):
		}
	}
}

// Reaper reaps orphans that were reparented to this process (a subreaper)
// and exited, without stealing the exit status of children that an
// exec.Cmd.Wait is waiting for. Groups reap their own members already; a
// Reaper is the process-wide catch-all for the rest. Call Reap now and then
// (every few seconds); each call also records the descendants it sees, which
// is what later proves them orphans.
type Reaper struct {
	mu      sync.Mutex
	orphans map[procKey]bool // descendants seen with a parent other than us
}

// NewReaper returns a Reaper that has seen nothing yet.
func NewReaper() *Reaper { return &Reaper{orphans: map[procKey]bool{}} }

// Reap waits (without blocking) for zombie children of this process that are
// provably orphans: seen by an earlier Reap with another parent. If owned is
// not nil, Reap also waits for every other zombie child whose pid owned
// reports false. Only pass owned if it knows every child that anyone in this
// process waits for, from before the child can exit until after it is waited
// for (e.g. a registry updated under the same lock around cmd.Start and
// cmd.Wait); otherwise a child's exit status can be stolen and its
// exec.Cmd.Wait fails with "no child processes". Reap returns the pids it
// reaped.
func (r *Reaper) Reap(owned func(pid int) bool) ([]int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	procs, err := listProcs()
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	self := os.Getpid()
	children := make(map[int][]int, len(procs))
	for i, p := range procs {
		children[p.ppid] = append(children[p.ppid], i)
	}
	seen := make(map[procKey]bool, len(r.orphans))
	var reaped []int
	forEachDescendant(procs, children, self, func(i int) {
		p := procs[i]
		k := p.key()
		if p.ppid != self {
			seen[k] = true
			return
		}
		if p.zombie && (r.orphans[k] || (owned != nil && !owned(p.pid))) && reap(p.pid) {
			reaped = append(reaped, p.pid)
			return
		}
		if r.orphans[k] {
			seen[k] = true
		}
	})
	r.orphans = seen
	sort.Ints(reaped)
	return reaped, nil
}
