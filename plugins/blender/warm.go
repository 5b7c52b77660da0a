package main

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cajonfarm/cajon/sdk/bytesize"
)

// jobsRemembered is how many jobs' refusals and last stop reasons the pool
// keeps: far more jobs than interleave their tasks on one node, while a
// worker that runs for months does not gather one entry per job it saw.
const jobsRemembered = 64

// sessions keeps the plugin's warm Blenders, of any jobs side by side: the
// identities of a worker (one per GPU) share this plugin, and the local
// queue runs tasks of several jobs at once, so tasks of two jobs that
// alternate each find their job's Blender still warm. It decides which
// task may use which, and stops them after warm_idle without a task, when
// a task of their job has other arguments, past warm_max_tasks, after a
// crash and on Close; and, least recently used idle ones first, when a
// new one needs room (warm_max_sessions) or all of them together take more
// memory than warm_max_rss. A busy one is never stopped to make room.
type sessions struct {
	mu sync.Mutex
	// live is ordered by use: the least recently used first. A task
	// taking or giving back a session moves it to the end.
	live   []*session
	jobs   map[string]*jobNotes // by job id; at most jobsRemembered
	seen   uint64               // counts tasks, to find the job seen longest ago
	closed bool
	stops  sync.WaitGroup
	// The limits of the latest task's config: [plugins.blender] is one
	// table for the whole plugin, so every task brings the same.
	maxSessions int
	maxRSS      int64 // bytes, 0 = no limit
	// rss is a process's resident memory and total the machine's memory,
	// 0 when unknown. Tests change them.
	rss   func(pid int) int64
	total int64
}

// jobNotes is what the pool remembers of one job between its tasks.
type jobNotes struct {
	refused map[string]string // session key -> why its tasks cannot render warm
	stopped string            // why the job's last session ended, for its next task's log
	seen    uint64
}

func newSessions() *sessions {
	return &sessions{jobs: map[string]*jobNotes{}, maxSessions: defaultWarmMaxSessions, rss: residentMemory, total: totalMemory()}
}

// jobLocked returns the notes of jobID, making them (and forgetting the
// job seen longest ago when there are too many) if needed.
func (p *sessions) jobLocked(jobID string) *jobNotes {
	p.seen++
	if n, ok := p.jobs[jobID]; ok {
		n.seen = p.seen
		return n
	}
	if len(p.jobs) >= jobsRemembered {
		oldest := ""
		for id, n := range p.jobs {
			if oldest == "" || n.seen < p.jobs[oldest].seen {
				oldest = id
			}
		}
		delete(p.jobs, oldest)
	}
	n := &jobNotes{refused: map[string]string{}, seen: p.seen}
	p.jobs[jobID] = n
	return n
}

// limitsLocked takes the limits of a task's config.
func (p *sessions) limitsLocked(cfg config) {
	p.maxSessions = cfg.WarmMaxSessions
	p.maxRSS = cfg.WarmMaxRSS.of(p.total)
}

// claim is a session reserved for one task.
type claim struct {
	s       *session
	fresh   bool     // new: the task starts it
	n       int      // the task's number in the session, from 1
	ended   string   // why the job's session before it ended ("" if none did)
	evicted []string // idle sessions stopped to make room for it, for the task's log
}

// take reserves a session for a task of jobID with key: an idle warm one
// of the job that matches (one that is reloaded first, else one that is
// reloading), else a new one (fresh: its start is the caller's), for which
// the least recently used idle sessions may be stopped to make room. When
// the task must render cold it returns why instead.
func (p *sessions) take(jobID, key string, cfg config) (claim, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return claim{}, "the plugin is stopping"
	}
	p.limitsLocked(cfg)
	job := p.jobLocked(jobID)
	if r, ok := job.refused[key]; ok {
		return claim{}, "an earlier task of this job could not render warm with these arguments: " + r
	}
	var pick, other *session
	for _, s := range slices.Clone(p.live) {
		switch {
		case s.busy:
		case isClosed(s.done):
			p.dropLocked(s, p.exitReason(s))
		case s.jobID != jobID:
			// Another job's Blender with the same key is as good as a new
			// one: its reload made it like a fresh Blender, whatever job it
			// rendered for. Taken only when this job has none idle, the
			// least recently used first, so that interleaved jobs keep theirs.
			if s.key == key && other == nil {
				other = s
			}
		case s.key != key:
			p.dropLocked(s, "the task's blend file, Blender or start options differ from the ones it was started for")
		case pick == nil || (isClosed(s.readyCh()) && !isClosed(pick.readyCh())):
			pick = s
		}
	}
	if pick == nil && other != nil {
		pick = other
		pick.jobID = jobID
	}
	if pick != nil {
		pick.busy = true
		if pick.idleTimer != nil {
			pick.idleTimer.Stop()
		}
		p.touchLocked(pick)
		return claim{s: pick, n: pick.tasks + 1}, ""
	}
	var evicted []string
	for len(p.live) >= p.maxSessions {
		lru := p.idleLRULocked()
		if lru == nil {
			return claim{}, fmt.Sprintf("the warm Blenders are busy with other tasks ([plugins.blender] warm_max_sessions = %d)", p.maxSessions)
		}
		evicted = append(evicted, p.evictLocked(lru, jobID,
			fmt.Sprintf("there were %d ([plugins.blender] warm_max_sessions)", p.maxSessions)))
	}
	// A new Blender adds a scene to memory: make room first if the warm
	// ones take more than the limit already.
	evicted = append(evicted, p.trimMemoryLocked(jobID)...)
	s := p.addLocked(key, jobID)
	s.busy = true
	c := claim{s: s, fresh: true, n: 1, ended: job.stopped, evicted: evicted}
	job.stopped = ""
	return c, ""
}

// touchLocked marks s as the most recently used.
func (p *sessions) touchLocked(s *session) {
	if i := slices.Index(p.live, s); i >= 0 {
		p.live = append(slices.Delete(p.live, i, i+1), s)
	}
}

// idleLRULocked is the least recently used session that no task uses, or
// nil.
func (p *sessions) idleLRULocked() *session {
	for _, s := range p.live {
		if !s.busy {
			return s
		}
	}
	return nil
}

// evictLocked stops s, the least recently used idle session, to make room
// for a task of jobID because of what; it returns the line for that task's
// log.
func (p *sessions) evictLocked(s *session, jobID, because string) string {
	s.mu.Lock()
	pid := s.pid
	s.mu.Unlock()
	p.dropLocked(s, fmt.Sprintf("it was the least recently used idle one when a task of job %s needed room: %s", jobID, because))
	return fmt.Sprintf("stopped the warm Blender (pid %d) of job %s, least recently used, to make room: %s", pid, s.jobID, because)
}

// trimMemoryLocked stops idle sessions, least recently used first, while
// the memory of all of them together is past warm_max_rss; busy ones count
// but stay. It returns the lines for the log of the task of jobID that
// needs the room ("" for none: a check between tasks).
func (p *sessions) trimMemoryLocked(jobID string) []string {
	if p.maxRSS <= 0 {
		return nil
	}
	used := map[*session]int64{}
	var total int64
	for _, s := range p.live {
		s.mu.Lock()
		pid := s.pid
		s.mu.Unlock()
		if pid > 0 {
			used[s] = p.rss(pid)
			total += used[s]
		}
	}
	var lines []string
	for total > p.maxRSS {
		lru := p.idleLRULocked()
		if lru == nil {
			break
		}
		because := fmt.Sprintf("the warm Blenders' memory (%s in all, %s of it this one's) passed [plugins.blender] warm_max_rss (%s)",
			bytesize.Format(total), bytesize.Format(used[lru]), bytesize.Format(p.maxRSS))
		total -= used[lru]
		if jobID == "" {
			p.dropLocked(lru, because+"; it was the least recently used idle one")
			continue
		}
		lines = append(lines, p.evictLocked(lru, jobID, because))
	}
	return lines
}

// addLocked makes a new session and keeps it, as the most recently used.
func (p *sessions) addLocked(key, jobID string) *session {
	s := newSession(key, jobID)
	s.onReady = func() { p.checkIdle(s) }
	s.onExited = func() { p.exited(s) }
	p.live = append(p.live, s)
	return s
}

// release ends a task's use of s, which rendered it; cfg is the task's.
func (p *sessions) release(s *session, cfg config) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s.busy = false
	if !slices.Contains(p.live, s) {
		return
	}
	p.limitsLocked(cfg)
	p.touchLocked(s)
	s.tasks++
	if s.tasks >= cfg.WarmMaxTasks {
		p.dropLocked(s, fmt.Sprintf("it rendered %d tasks ([plugins.blender] warm_max_tasks)", s.tasks))
		return
	}
	idle := time.Duration(cfg.WarmIdle)
	s.idleTimer = time.AfterFunc(idle, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if slices.Contains(p.live, s) && !s.busy {
			p.dropLocked(s, fmt.Sprintf("it had no task for %s ([plugins.blender] warm_idle)", idle))
		}
	})
	p.checkIdleLocked(s)
}

// refuse remembers that tasks of s's job with key cannot render warm (the
// driver cannot apply their arguments, or their Blender does not come up),
// so that the job's next tasks go cold at once, and stops the job's
// sessions of key.
func (p *sessions) refuse(s *session, key, why string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.jobLocked(s.jobID).refused[key] = why
	s.busy = false
	for _, o := range slices.Clone(p.live) {
		if o == s || (o.jobID == s.jobID && o.key == key && !o.busy) {
			p.dropLocked(o, "tasks with its arguments cannot render warm")
		}
	}
}

// drop stops s, which a task used and which must not be used again.
func (p *sessions) drop(s *session, why string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s.busy = false
	p.dropLocked(s, why)
}

// checkIdle looks at an idle session once its file is reloaded: a driver
// that says it is no longer like a fresh Blender, or the warm Blenders'
// memory past the limit, stops it.
func (p *sessions) checkIdle(s *session) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.checkIdleLocked(s)
}

func (p *sessions) checkIdleLocked(s *session) {
	if !slices.Contains(p.live, s) || s.busy {
		return
	}
	s.mu.Lock()
	ready, reusable, why := isClosed(s.ready), s.reusable, s.notReuse
	s.mu.Unlock()
	if !ready {
		return
	}
	if !reusable {
		// What made it unlike a fresh Blender (the scene's scripts) comes
		// back with every session of the job: its next tasks render cold.
		p.jobLocked(s.jobID).refused[s.key] = "its driver found that the warm Blender is no longer like a fresh one: " + why
		p.dropLocked(s, "its driver says it is no longer like a fresh Blender: "+why)
		return
	}
	// Measured with the scene reloaded, as a task finds it.
	p.trimMemoryLocked("")
}

// exited forgets a session whose Blender ended while no task used it.
func (p *sessions) exited(s *session) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if slices.Contains(p.live, s) && !s.busy {
		p.dropLocked(s, p.exitReason(s))
	}
}

func (p *sessions) exitReason(s *session) string {
	return endedWhy(s) + " between tasks"
}

// dropLocked forgets s and stops it in the background; its job's next new
// session tells why.
func (p *sessions) dropLocked(s *session, why string) {
	if i := slices.Index(p.live, s); i >= 0 {
		p.live = slices.Delete(p.live, i, i+1)
		if n, ok := p.jobs[s.jobID]; ok {
			n.stopped = why
		}
	}
	if s.idleTimer != nil {
		s.idleTimer.Stop()
	}
	p.stops.Add(1)
	go func() {
		defer p.stops.Done()
		s.stop()
	}()
}

// Close stops the warm Blenders and waits until they are gone.
func (p *sessions) Close() {
	p.mu.Lock()
	p.closed = true
	for _, s := range slices.Clone(p.live) {
		p.dropLocked(s, "the plugin stopped")
	}
	p.mu.Unlock()
	p.stops.Wait()
}

// isClosed reports whether ch is closed.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
