// Package proctree contains the processes of one command and kills all of them
// on request, including ones that try to get away. It is the containment that
// the SDK and the Cajon host share: the SDK runs each command's processes in a
// Group, and the host sweeps a crashed plugin's leftovers by their tag. It
// lives in the SDK's module because a plugin cannot depend on the host's.
// Plugin authors normally use sdk/process (Run.Exec), which builds on it.
//
// A command is started with Start and becomes a Group. Which processes belong
// to the Group is decided per OS:
//
//   - Linux: a live process (zombies count as gone) is a member if it is in the
//     group's process group, carries CAJON_RUN_ID=<tag> in /proc/<pid>/environ
//     (checked for descendants of this process only), descends from the leader
//     or from another member, or was a member in an earlier sweep (recognised by
//     pid and start time, so a process that setsid()s and is reparented stays a
//     member). Call SetSubreaper once at start-up so that orphans (double-forked
//     daemons) reparent to this process instead of init and stay findable.
//   - macOS: the same without the environment tag (no subreaper exists there;
//     the process group and remembered members still reach reparented orphans).
//   - Windows: the Job Object is the group.
//
// Zombies and reaping (Unix). A subreaper inherits the orphans of its
// descendants and must wait for them, or they stay zombies. Waiting for the
// wrong pid would steal the exit status that an exec.Cmd.Wait elsewhere in the
// process is waiting for. The rule used throughout this package: a zombie child
// is reaped only when it is provably an orphan, that is, one that this process
// did not start itself, so that no exec.Cmd waits for it. Proofs: it was seen
// earlier with another parent (a process changes parent only by being
// orphaned); it is a non-leader in a group's process group (only a leader is
// started by this process into its group); it carries a group's tag (only a
// leader is started by this process with that tag, unless this process carries
// the same tag itself). Groups apply these rules to their own members on every
// sweep, so Members and Terminate reap them; Reaper applies the first one
// process-wide. The leader itself is never reaped here: Group.Wait does that.
//
// Known limit (Linux, macOS): a process that leaves the process group and drops
// the tag from its environment (setsid + env -i) and is orphaned, all between
// two sweeps, is not recognised. It stays a descendant of the subreaper, so a
// sweep of all descendants (at plugin shutdown) still finds it.
package proctree

import (
	"context"
	"fmt"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// TagEnv is the environment variable that carries a Group's tag (the run id)
// into every process of the group.
const TagEnv = "CAJON_RUN_ID"

// SubTag returns the tag of the n-th Group started for the run tagged tag.
// Groups that live at the same time need tags of their own (a Group's sweep
// takes every process with its tag as a member), while KillTagged(tag) still
// finds them all.
func SubTag(tag string, n int64) string {
	return tag + "/" + strconv.FormatInt(n, 10)
}

// tagMatches reports whether value, a process's CAJON_RUN_ID, is tag or, with
// family, a sub-tag of tag.
func tagMatches(value, tag string, family bool) bool {
	if value == tag {
		return true
	}
	return family && len(value) > len(tag) && value[len(tag)] == '/' && value[:len(tag)] == tag
}

// Timings of the kill sequence.
const (
	// KillTimeout bounds how long Terminate (after its grace), KillTree and
	// KillTagged keep killing and sweeping before they give up and report
	// survivors. The host's wait for an aborted command derives from it
	// (host/plugins, stopMargin).
	KillTimeout  = 5 * time.Second
	minPollDelay = 5 * time.Millisecond
	maxPollDelay = 100 * time.Millisecond
)

// Options configures how Start contains a command.
type Options struct {
	// Tag is the run id. It is set in the command's environment as
	// CAJON_RUN_ID=<Tag> (replacing an inherited value) and lets the sweep find
	// processes that left the process group. Give every Group its own tag; an
	// empty Tag disables the environment check.
	Tag string
	// Cgroup is a cgroupfs directory to start the leader in (Linux; ignored
	// elsewhere): the memory cgroup the host made for the run
	// (RunRequest.cgroup_path). Everything the leader forks is in it too.
	// On cgroup v2 the leader is cloned into it (CLONE_INTO_CGROUP), so no
	// process of the command ever runs outside it; on cgroup v1, or where
	// the kernel refuses that clone, its pid is written to the cgroup's
	// cgroup.procs right after the start, before the leader has run much of
	// anything. A leader that could not join still runs: Group.CgroupErr
	// says why, and the host's watchdog guards its memory instead.
	Cgroup string
}

// procKey names one process for as long as it exists: the pid plus its start
// time, so that a reused pid is never mistaken for the process seen before.
// Where the start time is unknown (Windows job lists, the BSD fallback) it is 0.
type procKey struct {
	pid   int
	start uint64
}

// Group is one command's processes: the leader started by Start and everything
// it spawns. All methods are safe for concurrent use.
type Group struct {
	cmd *exec.Cmd
	pid int
	tag string

	cgroupErr error // why the leader did not join Options.Cgroup

	waitOnce sync.Once
	waitDone chan struct{}
	waitErr  error

	termMu    sync.Mutex // one Terminate at a time
	escalated atomic.Bool

	sys groupSys // OS-specific state; its methods guard themselves
}

// Pid returns the process id of the group's leader.
func (g *Group) Pid() int { return g.pid }

// CgroupErr says why the leader is not in Options.Cgroup although it was
// asked for; nil when it is, or when no cgroup was asked for.
func (g *Group) CgroupErr() error { return g.cgroupErr }

// Wait waits for the leader to exit and returns what exec.Cmd.Wait returned.
// Use it instead of cmd.Wait: it also releases the resources that Start holds
// for the leader (on Linux the OS thread the leader was started from, whose
// exit would deliver the leader's parent-death signal). Wait may be called any
// number of times, from any goroutine; all calls return the same result. It
// does not wait for the other members: see Members and Terminate.
func (g *Group) Wait() error {
	g.waitOnce.Do(func() {
		g.waitErr = g.cmd.Wait()
		close(g.waitDone)
	})
	return g.waitErr
}

// Members returns the pids of the live processes that belong to the group now,
// sorted. Orphaned members that already exited are reaped as a side effect.
func (g *Group) Members() ([]int, error) {
	live, err := g.sys.sweep()
	return pidsOf(live), err
}

// Escalated reports whether a Terminate call had to force-kill the group
// (SIGKILL / TerminateJobObject) because members outlived the polite stop.
func (g *Group) Escalated() bool { return g.escalated.Load() }

// Terminate stops every process of the group. It asks politely first (SIGTERM
// to the process group and to every member outside it, followed by SIGCONT so
// that stopped processes can act on it; CTRL_BREAK on Windows), waits up to
// grace for all members to be gone, then kills (SIGKILL; TerminateJobObject on
// Windows) and sweeps again and again until none is left. If ctx is done before
// grace has passed, or the polite stop could not be sent (Windows: a process
// without a console, such as a service, cannot send CTRL_BREAK), it kills at
// once. The kill phase ignores ctx but gives up after a few seconds, returning
// an error that lists the surviving pids.
//
// Terminate returns nil at once when no member is left, so it is cheap to call
// after every command, and it is safe to call more than once and concurrently
// with Wait. On Windows it also closes the Job Object once the group is empty;
// call it when the group is no longer needed.
func (g *Group) Terminate(ctx context.Context, grace time.Duration) error {
	g.termMu.Lock()
	defer g.termMu.Unlock()

	live, err := g.sys.sweep()
	if err == nil && len(live) == 0 {
		g.sys.release()
		return nil
	}

	asked := make(map[procKey]bool, len(live))
	askNew := func(live []procKey) {
		var fresh []procKey
		for _, k := range live {
			if !asked[k] {
				asked[k] = true
				fresh = append(fresh, k)
			}
		}
		// Each process is asked once: many programs treat a second SIGTERM
		// as "stop cleaning up and quit now".
		if len(fresh) > 0 || len(asked) == 0 {
			g.sys.ask(fresh)
		}
	}
	askNew(live) // also when the sweep failed: the process group is still asked
	if g.sys.unasked() {
		grace = 0 // nobody was told to stop: no point in waiting for it
	}

	graceTimer := time.NewTimer(grace)
	defer graceTimer.Stop()
	delay := newPollDelay()
polite:
	for {
		select {
		case <-graceTimer.C:
			break polite
		case <-ctx.Done():
			break polite
		case <-time.After(delay.next()):
		}
		live, err = g.sys.sweep()
		if err != nil {
			continue // cannot tell who is left; wait out the grace
		}
		if len(live) == 0 {
			g.sys.release()
			return nil
		}
		askNew(live)
	}

	g.escalated.Store(true)
	deadline := time.Now().Add(KillTimeout)
	delay = newPollDelay()
	for {
		live, err = g.sys.sweep()
		if err == nil && len(live) == 0 {
			g.sys.release()
			return nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("terminate run %q (leader pid %d): cannot list its processes: %w", g.tag, g.pid, err)
			}
			return fmt.Errorf("terminate run %q (leader pid %d): processes %s survived a kill for %s; "+
				"they are probably stuck in the kernel (uninterruptible I/O, e.g. a hung network file system)",
				g.tag, g.pid, formatPids(pidsOf(live)), KillTimeout)
		}
		g.sys.kill(live) // live is nil when the sweep failed: the process group is still killed
		time.Sleep(delay.next())
	}
}

// pollDelay is a short, growing delay between sweeps: fast exits are noticed
// quickly, slow ones do not cost a /proc scan every few milliseconds.
type pollDelay struct{ d time.Duration }

func newPollDelay() *pollDelay { return &pollDelay{d: minPollDelay} }

func (p *pollDelay) next() time.Duration {
	d := p.d
	p.d = min(2*p.d, maxPollDelay)
	return d
}

func pidsOf(keys []procKey) []int {
	if len(keys) == 0 {
		return nil
	}
	pids := make([]int, len(keys))
	for i, k := range keys {
		pids[i] = k.pid
	}
	sort.Ints(pids)
	return pids
}

func formatPids(pids []int) string {
	s := make([]string, len(pids))
	for i, p := range pids {
		s[i] = fmt.Sprint(p)
	}
	return strings.Join(s, ", ")
}

// taggedEnv returns env without any inherited tag and, if tag is set, with
// CAJON_RUN_ID=<tag> appended.
func taggedEnv(env []string, tag string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		// Case-insensitive because Windows environment names are.
		if len(kv) <= len(TagEnv) || kv[len(TagEnv)] != '=' || !strings.EqualFold(kv[:len(TagEnv)], TagEnv) {
			out = append(out, kv)
		}
	}
	if tag != "" {
		out = append(out, TagEnv+"="+tag)
	}
	return out
}
