package main

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cajonfarm/cajon/sdk/bytesize"
)

// maxSessions is how many warm Blenders the plugin keeps: a Manager gives a
// worker one task at a time, the local queue may run two tasks of a job at
// once. A third task at the same time renders cold.
const maxSessions = 2

// sessions keeps the plugin's warm Blenders for the job whose tasks come
// now (a next job with the same key takes them over). It decides which task
// may use which and stops them after warm_idle without a task, when the
// key changes or a task of another job renders cold, past warm_max_tasks or
// warm_max_rss, after a crash, and on Close.
type sessions struct {
	mu      sync.Mutex
	live    []*session
	job     string            // the job of the latest task
	refused map[string]string // session key -> why the driver refused it, in this job
	stopped string            // why the last session ended, for the next task's log
	closed  bool
	stops   sync.WaitGroup
	// rss is a process's resident memory and total the machine's memory,
	// 0 when unknown. Tests change them.
	rss   func(pid int) int64
	total int64
}

func newSessions() *sessions {
	return &sessions{refused: map[string]string{}, rss: residentMemory, total: totalMemory()}
}

// noteJob records the job of a task that starts now. Idle warm Blenders of
// another job stay for now: one with the task's key takes it (take), as a
// reload made it like a fresh Blender whatever job it rendered for; the
// others stop at take, or at dropOtherJobs when the task renders cold.
func (p *sessions) noteJob(jobID string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.noteJobLocked(jobID)
}

func (p *sessions) noteJobLocked(jobID string) {
	if jobID == p.job {
		return
	}
	p.job = jobID
	p.refused = map[string]string{}
}

// dropOtherJobs stops the idle warm Blenders of jobs other than jobID: a
// task of jobID renders cold and needs the memory more.
func (p *sessions) dropOtherJobs(jobID string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range slices.Clone(p.live) {
		if !s.busy && s.jobID != jobID {
			p.dropLocked(s, "the job changed")
		}
	}
}

// claim is a session reserved for one task.
type claim struct {
	s     *session
	fresh bool   // new: the task starts it
	n     int    // the task's number in the session, from 1
	ended string // why the session before it ended ("" if none did)
}

// take reserves a session for a task of jobID with key: an idle warm one
// that matches (one that is reloaded first, else one that is reloading),
// else a new one (fresh: its start is the caller's). When the task must
// render cold it returns why instead.
func (p *sessions) take(jobID, key string) (claim, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return claim{}, "the plugin is stopping"
	}
	p.noteJobLocked(jobID)
	if r, ok := p.refused[key]; ok {
		return claim{}, "an earlier task of this job could not render warm with these arguments: " + r
	}
	var pick *session
	for _, s := range slices.Clone(p.live) {
		switch {
		case s.busy:
		case isClosed(s.done):
			p.dropLocked(s, p.exitReason(s))
		case s.key != key:
			p.dropLocked(s, "the task's arguments differ from the ones it was started for")
		case pick == nil || (isClosed(s.readyCh()) && !isClosed(pick.readyCh())):
			pick = s
		}
	}
	if pick != nil {
		pick.busy = true
		pick.jobID = jobID
		if pick.idleTimer != nil {
			pick.idleTimer.Stop()
		}
		return claim{s: pick, n: pick.tasks + 1}, ""
	}
	if len(p.live) >= maxSessions {
		return claim{}, "the warm Blenders are busy with other tasks"
	}
	s := p.addLocked(key, jobID)
	s.busy = true
	c := claim{s: s, fresh: true, n: 1, ended: p.stopped}
	p.stopped = ""
	return c, ""
}

// addLocked makes a new session and keeps it.
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
	s.tasks++
	s.maxRSS = cfg.WarmMaxRSS.of(p.total)
	switch {
	case s.jobID != p.job:
		p.dropLocked(s, "the job changed")
		return
	case s.tasks >= cfg.WarmMaxTasks:
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

// refuse remembers that tasks with key cannot render warm (the driver
// cannot apply their arguments, or their Blender does not come up), so that
// the job's next tasks go cold at once, and stops the sessions of key.
func (p *sessions) refuse(s *session, key, why string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refused[key] = why
	s.busy = false
	for _, o := range slices.Clone(p.live) {
		if o == s || (o.key == key && !o.busy) {
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
// that says it is no longer like a fresh Blender, or a memory past the
// limit, stops it.
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
	ready, reusable, why, pid := isClosed(s.ready), s.reusable, s.notReuse, s.pid
	s.mu.Unlock()
	if !ready {
		return
	}
	if !reusable {
		// What made it unlike a fresh Blender (the scene's scripts) comes
		// back with every session of the job: its next tasks render cold.
		if s.jobID == p.job {
			p.refused[s.key] = "its driver found that the warm Blender is no longer like a fresh one: " + why
		}
		p.dropLocked(s, "its driver says it is no longer like a fresh Blender: "+why)
		return
	}
	if s.maxRSS > 0 {
		if rss := p.rss(pid); rss > s.maxRSS {
			p.dropLocked(s, fmt.Sprintf("its memory (%s) passed [plugins.blender] warm_max_rss (%s)", bytesize.Format(rss), bytesize.Format(s.maxRSS)))
		}
	}
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

// dropLocked forgets s and stops it in the background.
func (p *sessions) dropLocked(s *session, why string) {
	if i := slices.Index(p.live, s); i >= 0 {
		p.live = slices.Delete(p.live, i, i+1)
		p.stopped = why
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
