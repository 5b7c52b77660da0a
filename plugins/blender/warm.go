package main

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// sessions keeps the plugin's warm Blender: at most one, for the job whose
// tasks come now (a Manager gives a worker one task at a time; a second task
// at the same time renders cold). It decides which task may use it and stops
// it after warm_idle without a task, when the job or the task's arguments
// change, past warm_max_tasks or warm_max_rss, after a crash, and on Close.
type sessions struct {
	mu      sync.Mutex
	cur     *session
	job     string            // the job of the latest task
	refused map[string]string // session key -> why the driver refused it, in this job
	stopped string            // why the last session ended, for the next task's log
	closed  bool
	stops   sync.WaitGroup
	// rss is a process's resident memory and total the machine's memory;
	// 0 when unknown. Tests replace them.
	rss   func(pid int) int64
	total int64
}

func newSessions() *sessions {
	return &sessions{refused: map[string]string{}, rss: residentMemory, total: totalMemory()}
}

// noteJob records the job of a task that starts now: a warm Blender of
// another job is stopped when idle (or when its task ends).
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
	if s := p.cur; s != nil && !s.busy && s.jobID != jobID {
		p.dropLocked(s, "the job changed")
	}
}

// claim is a session reserved for one task.
type claim struct {
	s     *session
	fresh bool   // new: the task starts it
	n     int    // the task's number in the session, from 1
	ended string // why the session before it ended ("" if none did)
}

// take reserves a session for a task of jobID with key: the warm one when it
// matches, else a new one (fresh: its start is the caller's). When the task
// must render cold it returns why instead.
func (p *sessions) take(jobID, key string) (claim, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return claim{}, "the plugin is stopping"
	}
	p.noteJobLocked(jobID)
	if r, ok := p.refused[key]; ok {
		return claim{}, "the warm session refused these arguments earlier in this job: " + r
	}
	if s := p.cur; s != nil {
		if s.busy {
			return claim{}, "the warm Blender is busy with another task"
		}
		select {
		case <-s.done:
			p.dropLocked(s, p.exitReason(s))
		default:
			if s.key == key {
				s.busy = true
				if s.idleTimer != nil {
					s.idleTimer.Stop()
				}
				return claim{s: s, n: s.tasks + 1}, ""
			}
			p.dropLocked(s, "the task's arguments differ from the ones it was started for")
		}
	}
	s := newSession(key, jobID)
	s.busy = true
	s.onReady = func() { p.checkIdle(s) }
	s.onExited = func() { p.exited(s) }
	p.cur = s
	c := claim{s: s, fresh: true, n: 1, ended: p.stopped}
	p.stopped = ""
	return c, ""
}

// release ends a task's use of s, which rendered it; cfg is the task's.
func (p *sessions) release(s *session, cfg config) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s.busy = false
	if p.cur != s {
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
		if p.cur == s && !s.busy {
			p.dropLocked(s, fmt.Sprintf("it had no task for %s ([plugins.blender] warm_idle)", idle))
		}
	})
	p.checkIdleLocked(s)
}

// refuse remembers that the driver cannot apply the arguments of key, so
// that the job's next tasks go cold at once, and stops s.
func (p *sessions) refuse(s *session, key, why string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refused[key] = why
	s.busy = false
	if p.cur == s {
		p.dropLocked(s, "it could not apply the task's arguments")
	}
}

// drop stops s, which a task used and must not be used again.
func (p *sessions) drop(s *session, why string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s.busy = false
	if p.cur == s {
		p.dropLocked(s, why)
	}
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
	if p.cur != s || s.busy {
		return
	}
	s.mu.Lock()
	ready, reusable, why, pid := false, s.reusable, s.notReuse, s.pid
	select {
	case <-s.ready:
		ready = true
	default:
	}
	s.mu.Unlock()
	if !ready {
		return
	}
	if !reusable {
		p.dropLocked(s, "its driver says it is no longer like a fresh Blender: "+why)
		return
	}
	if s.maxRSS > 0 {
		if rss := p.rss(pid); rss > s.maxRSS {
			p.dropLocked(s, fmt.Sprintf("its memory (%s) passed [plugins.blender] warm_max_rss (%s)", formatBytes(rss), formatBytes(s.maxRSS)))
		}
	}
}

// exited forgets a session whose Blender ended while no task used it.
func (p *sessions) exited(s *session) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == s && !s.busy {
		p.dropLocked(s, p.exitReason(s))
	}
}

func (p *sessions) exitReason(s *session) string {
	res, _, last := s.ended()
	why := "its Blender " + exitDescription(res) + " between tasks"
	if len(last) > 0 {
		why += "; its last output:\n" + strings.Join(last, "\n")
	}
	return why
}

// dropLocked forgets s and stops it in the background.
func (p *sessions) dropLocked(s *session, why string) {
	if p.cur == s {
		p.cur = nil
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

// Close stops the warm Blender and waits until it is gone.
func (p *sessions) Close() {
	p.mu.Lock()
	p.closed = true
	if s := p.cur; s != nil {
		p.dropLocked(s, "the plugin stopped")
	}
	p.mu.Unlock()
	p.stops.Wait()
}
