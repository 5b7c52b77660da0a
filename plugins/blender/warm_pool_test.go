package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/internal/testwait"
)

// poolStep is one thing a test does to the pool of warm sessions.
type poolStep struct {
	op   string // "take", "release" or "refuse"
	job  string // take: the task's job
	key  string // take: the task's session key (when empty, one of the job's own: another scene)
	name string // the session: take names the one it gets, release and refuse name it
	// take: "new", "warm <name>" (the named session, reused) or
	// "cold: <part of why>".
	want   string
	ended  string   // take, new: part of why the job's last session ended
	log    string   // take: part of a line it logs for the sessions it stops to make room
	evicts []string // take: the sessions it stops to make room (and logs)
	stops  []string // the sessions this step stops otherwise
}

// poolCase is a run of steps with the limits of one config.
type poolCase struct {
	name        string
	maxSessions int   // 0: the default
	maxRSS      int64 // bytes; 0: no limit
	rss         int64 // what every session's Blender measures
	steps       []poolStep
}

var poolCases = []poolCase{
	{
		name: "interleaved jobs keep both warm", rss: 100 << 20,
		steps: []poolStep{
			{op: "take", job: "A", name: "a1", want: "new"},
			{op: "release", name: "a1"},
			{op: "take", job: "B", name: "b1", want: "new"},
			{op: "release", name: "b1"},
			{op: "take", job: "A", want: "warm a1"},
			{op: "release", name: "a1"},
			{op: "take", job: "B", want: "warm b1"},
			{op: "release", name: "b1"},
		},
	},
	{
		name: "the count limit stops the least recently used idle one", maxSessions: 2,
		steps: []poolStep{
			{op: "take", job: "A", name: "a1", want: "new"},
			{op: "release", name: "a1"},
			{op: "take", job: "B", name: "b1", want: "new"},
			{op: "release", name: "b1"},
			{op: "take", job: "A", want: "warm a1"},
			{op: "release", name: "a1"},
			{op: "take", job: "C", name: "c1", want: "new", evicts: []string{"b1"},
				log: "of job B, least recently used, to make room: there were 2 ([plugins.blender] warm_max_sessions)"},
			{op: "release", name: "c1"},
			{op: "take", job: "B", name: "b2", want: "new", evicts: []string{"a1"},
				ended: "it was the least recently used idle one when a task of job C needed room"},
		},
	},
	{
		name: "a busy one is never stopped to make room", maxSessions: 2,
		steps: []poolStep{
			{op: "take", job: "A", name: "a1", want: "new"}, // kept busy
			{op: "take", job: "B", name: "b1", want: "new"},
			{op: "release", name: "b1"},
			{op: "take", job: "C", name: "c1", want: "new", evicts: []string{"b1"}, log: "of job B"},
			{op: "take", job: "D", want: "cold: the warm Blenders are busy with other tasks ([plugins.blender] warm_max_sessions = 2)"},
			{op: "release", name: "a1"},
			{op: "take", job: "D", name: "d1", want: "new", evicts: []string{"a1"}, log: "of job A"},
		},
	},
	{
		name: "the memory of all of them past the limit stops the least recently used idle ones", maxSessions: 5, maxRSS: 250 << 20, rss: 100 << 20,
		steps: []poolStep{
			{op: "take", job: "A", name: "a1", want: "new"},
			{op: "release", name: "a1"},
			{op: "take", job: "B", name: "b1", want: "new"},
			{op: "release", name: "b1"},
			{op: "take", job: "C", name: "c1", want: "new"},
			{op: "release", name: "c1", stops: []string{"a1"}},
			{op: "take", job: "A", name: "a2", want: "new", ended: "passed [plugins.blender] warm_max_rss (250.0 MiB)"},
			{op: "release", name: "a2", stops: []string{"b1"}},
		},
	},
	{
		name: "busy ones count towards the memory but stay", maxSessions: 5, maxRSS: 150 << 20, rss: 100 << 20,
		steps: []poolStep{
			{op: "take", job: "A", name: "a1", want: "new"}, // kept busy
			{op: "take", job: "B", name: "b1", want: "new"},
			{op: "release", name: "b1", stops: []string{"b1"}},
			{op: "take", job: "B", name: "b2", want: "new", ended: "the warm Blenders' memory (200.0 MiB in all, 100.0 MiB of it this one's)"},
			{op: "take", job: "C", name: "c1", want: "new"}, // nothing idle to stop
			{op: "release", name: "a1", stops: []string{"a1"}},
		},
	},
	{
		name: "a refusal holds for its job while others come between",
		steps: []poolStep{
			{op: "take", job: "A", name: "a1", want: "new"},
			{op: "refuse", name: "a1", stops: []string{"a1"}},
			{op: "take", job: "B", name: "b1", want: "new"},
			{op: "release", name: "b1"},
			{op: "take", job: "A", want: "cold: an earlier task of this job could not render warm with these arguments: refused in the test"},
			{op: "take", job: "B", want: "warm b1"},
			{op: "release", name: "b1"},
			{op: "take", job: "A", key: "other", name: "a2", want: "new"},
		},
	},
	{
		name: "another job with the same key takes an idle one over, its own first",
		steps: []poolStep{
			{op: "take", job: "A", key: "same", name: "a1", want: "new"},
			{op: "release", name: "a1"},
			{op: "take", job: "B", key: "same", want: "warm a1"}, // a1 is B's now
			{op: "take", job: "A", key: "same", name: "a2", want: "new"},
			{op: "release", name: "a1"},
			{op: "release", name: "a2"},
			{op: "take", job: "A", key: "same", want: "warm a2"},
			{op: "take", job: "B", key: "same", want: "warm a1"},
			{op: "release", name: "a1"},
			{op: "take", job: "C", key: "other", name: "c1", want: "new"}, // another key: no takeover
		},
	},
	{
		name: "other arguments stop the job's own session only",
		steps: []poolStep{
			{op: "take", job: "A", name: "a1", want: "new"},
			{op: "release", name: "a1"},
			{op: "take", job: "B", name: "b1", want: "new"},
			{op: "release", name: "b1"},
			{op: "take", job: "A", key: "other", name: "a2", want: "new", stops: []string{"a1"}, ended: "start options differ"},
			{op: "take", job: "B", want: "warm b1"},
		},
	},
}

// TestWarmPool runs the pool's choices on stand-in Blenders (real
// processes that connect as the driver does, and render nothing): warm
// sessions of several jobs side by side, bounded by count and memory, the
// least recently used idle one stopped first, busy ones never; refusals
// kept per job.
func TestWarmPool(t *testing.T) {
	standIn := needStandIn(t)
	for _, tc := range poolCases {
		t.Run(tc.name, func(t *testing.T) {
			p := testSessions(t)
			p.rss = func(int) int64 { return tc.rss }
			cfg := defaultConfig()
			cfg.WarmMaxRSS = memLimit{Bytes: tc.maxRSS}
			if tc.maxSessions > 0 {
				cfg.WarmMaxSessions = tc.maxSessions
			}
			named := map[string]*session{}
			pids := map[string]int{}
			live := []string{} // the names the pool must hold after each step
			for i, st := range tc.steps {
				what := func() string {
					return tc.steps[i].op + " " + tc.steps[i].job + tc.steps[i].name + " (step " + strconv.Itoa(i+1) + ")"
				}
				switch st.op {
				case "take":
					key := st.key
					if key == "" {
						key = "blend file of job " + st.job // jobs of different scenes
					}
					c, why := p.take(st.job, key, cfg)
					got := takeOutcome(c, why, named)
					if c.fresh {
						// Started at once, as the plugin does: a session
						// never started cannot be stopped.
						named[st.name] = c.s
						pids[st.name] = startStandIn(t, c.s, standIn)
						live = append(live, st.name)
					}
					if want, ok := strings.CutPrefix(st.want, "cold: "); ok {
						if c.s != nil || !strings.Contains(why, want) {
							t.Fatalf("%s: %s, want cold saying %q", what(), got, want)
						}
						break
					}
					if got != st.want {
						t.Fatalf("%s: %s, want %s", what(), got, st.want)
					}
					if st.ended != "" && !strings.Contains(c.ended, st.ended) {
						t.Errorf("%s: the last session of the job ended %q, want it saying %q", what(), c.ended, st.ended)
					}
					if st.log != "" && !slices.ContainsFunc(c.evicted, func(l string) bool { return strings.Contains(l, st.log) }) {
						t.Errorf("%s: logs %q for the sessions it stopped, want a line saying %q", what(), c.evicted, st.log)
					}
					if len(c.evicted) != len(st.evicts) {
						t.Errorf("%s: logs %d stopped sessions (%q), want %d", what(), len(c.evicted), c.evicted, len(st.evicts))
					}
				case "release":
					p.release(named[st.name], cfg)
				case "refuse":
					p.refuse(named[st.name], named[st.name].key, "refused in the test")
				}
				for _, name := range append(st.stops, st.evicts...) {
					live = slices.DeleteFunc(live, func(n string) bool { return n == name })
					testwait.For(t, "the stand-in Blender of "+name+" to be stopped", func() bool { return !alive(pids[name]) })
				}
				if got := poolNames(p, named); !slices.Equal(sorted(got), sorted(live)) {
					t.Fatalf("%s: the pool holds %v, want %v", what(), got, live)
				}
			}
		})
	}
}

// TestWarmPoolIdleAndClose: warm_idle stops each idle session of any job,
// and Close stops them all, busy ones too, and waits until they are gone.
func TestWarmPoolIdleAndClose(t *testing.T) {
	standIn := needStandIn(t)
	t.Run("idle", func(t *testing.T) {
		p := testSessions(t)
		cfg := defaultConfig()
		cfg.WarmIdle = duration(200 * time.Millisecond)
		var pids []int
		for _, job := range []string{"A", "B"} {
			c, why := p.take(job, "scene of "+job, cfg)
			if !c.fresh {
				t.Fatalf("job %s's first task: not a new session (%s)", job, why)
			}
			pids = append(pids, startStandIn(t, c.s, standIn))
			p.release(c.s, cfg)
		}
		for _, pid := range pids {
			testwait.For(t, "an idle stand-in Blender to stop after warm_idle", func() bool { return !alive(pid) })
		}
		c, _ := p.take("A", "scene of A", cfg)
		if !c.fresh || !strings.Contains(c.ended, "it had no task for 200ms ([plugins.blender] warm_idle)") {
			t.Errorf("job A's next task: fresh %v, last session ended %q; want a new one after warm_idle", c.fresh, c.ended)
		}
		if c.s != nil {
			startStandIn(t, c.s, standIn) // a session never started cannot be stopped
		}
	})
	t.Run("close", func(t *testing.T) {
		p := newSessions()
		cfg := defaultConfig()
		var pids []int
		for i, job := range []string{"A", "B", "C"} {
			c, why := p.take(job, "scene of "+job, cfg)
			if !c.fresh {
				t.Fatalf("job %s's first task: not a new session (%s)", job, why)
			}
			pids = append(pids, startStandIn(t, c.s, standIn))
			if i < 2 {
				p.release(c.s, cfg) // C's stays busy
			}
		}
		p.Close()
		for _, pid := range pids {
			if alive(pid) {
				t.Errorf("the stand-in Blender %d outlived Close", pid)
			}
		}
		if c, why := p.take("A", "k", cfg); c.s != nil || why != "the plugin is stopping" {
			t.Errorf("a task after Close got a session (%v) or says %q", c.s != nil, why)
		}
	})
}

// TestWarmPoolForgetsOldJobs: the pool remembers refusals of the most
// recent jobsRemembered jobs, so a worker that ran many jobs does not hold
// an entry for each.
func TestWarmPoolForgetsOldJobs(t *testing.T) {
	p := newSessions()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.jobLocked("first").refused["k"] = "no"
	for i := range jobsRemembered - 1 {
		p.jobLocked("job " + strconv.Itoa(i))
	}
	p.jobLocked("first") // seen again: now the most recent
	p.jobLocked("one more")
	if _, ok := p.jobs["first"]; !ok || len(p.jobs) != jobsRemembered {
		t.Fatalf("after %d jobs the pool remembers %d, with the recently seen one: %v", jobsRemembered+1, len(p.jobs), ok)
	}
	if _, ok := p.jobs["job 0"]; ok {
		t.Error("the job seen longest ago is still remembered")
	}
}

// takeOutcome says what take gave: "new", "warm <name>" or "cold (why)".
func takeOutcome(c claim, why string, named map[string]*session) string {
	switch {
	case c.s == nil:
		return "cold (" + why + ")"
	case c.fresh:
		return "new"
	}
	for name, s := range named {
		if s == c.s {
			return "warm " + name
		}
	}
	return "warm (a session the test did not name)"
}

// poolNames are the names of the sessions the pool holds.
func poolNames(p *sessions, named map[string]*session) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var names []string
	for _, s := range p.live {
		for name, n := range named {
			if n == s {
				names = append(names, name)
			}
		}
	}
	return names
}

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }

// needStandIn returns the stand-in Blender's command (python3 with the
// script), skipping the test where it cannot run.
func needStandIn(t *testing.T) []string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the stand-in Blender's tests run on Unix")
	}
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed: the stand-in Blender needs it")
	}
	script, err := filepath.Abs(filepath.Join("testdata", "standin_warm_blender.py"))
	if err != nil {
		t.Fatal(err)
	}
	return []string{python, script}
}

// startStandIn starts a fresh session's Blender as the stand-in and waits
// until it is ready for a task; it returns its pid.
func startStandIn(t *testing.T, s *session, standIn []string) int {
	t.Helper()
	err := s.start(context.Background(), sessionStart{
		exe: standIn[0], prefix: standIn[1:], dir: t.TempDir(), env: os.Environ(), tag: "warm-pool-test", grace: time.Second,
	})
	if err != nil {
		t.Fatalf("starting the stand-in Blender: %v", err)
	}
	if err := s.waitReady(context.Background()); err != nil {
		res, runErr, last := s.ended()
		t.Fatalf("the stand-in Blender did not get ready: %v (%v, %v, %q)", err, res, runErr, last)
	}
	pid, _, _, _ := s.info()
	return pid
}
