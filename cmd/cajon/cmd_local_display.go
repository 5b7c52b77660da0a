package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/cajonfarm/cajon/host/config"
	"github.com/cajonfarm/cajon/host/local/jobstore"
	"github.com/cajonfarm/cajon/host/local/scheduler"
	"github.com/hashicorp/go-hclog"
	"golang.org/x/term"
)

// runOutput shows what `cajon local run` does. On a terminal it keeps a live
// block at the bottom of the screen, one line per running task, redrawn a few
// times a second, with events and log messages scrolling above it. Otherwise
// everything is a log line (hclog, text or JSON as configured), and the
// progress of running tasks is logged now and then when it changed.
type runOutput struct {
	w      io.Writer
	live   bool
	fd     int
	logger hclog.Logger

	mu    sync.Mutex
	drawn int // lines of the live block on screen
	shown []scheduler.Progress
	last  map[string]string // plain mode: the progress last logged per task

	stopOnce sync.Once
	quit     chan struct{}
	done     chan struct{}
}

// Redraw and plain progress intervals.
const (
	liveRedraw    = 200 * time.Millisecond
	plainProgress = 5 * time.Second
)

func newRunOutput(env *cliEnv, cfg *config.Config, plain bool) *runOutput {
	o := &runOutput{w: env.stderr, last: map[string]string{}, quit: make(chan struct{}), done: make(chan struct{})}
	if f, ok := env.stderr.(*os.File); ok && !plain && !strings.EqualFold(cfg.LogFormat, "json") && term.IsTerminal(int(f.Fd())) {
		o.live, o.fd = true, int(f.Fd())
		o.logger = newLogger(cfg, o)
	} else {
		o.logger = newLogger(cfg, env.stderr)
	}
	return o
}

// start begins redrawing (or logging progress) from the runner.
func (o *runOutput) start(r *scheduler.Runner) {
	interval := plainProgress
	if o.live {
		interval = liveRedraw
	}
	go func() {
		defer close(o.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-o.quit:
				return
			case <-t.C:
				ps := r.Running()
				if o.live {
					o.mu.Lock()
					o.shown = ps
					o.redrawLocked()
					o.mu.Unlock()
				} else {
					o.logProgress(ps)
				}
			}
		}
	}()
}

// stop ends the redraws and clears the live block.
func (o *runOutput) stop() {
	o.stopOnce.Do(func() {
		close(o.quit)
		select {
		case <-o.done:
		case <-time.After(time.Second):
		}
		o.mu.Lock()
		o.clearLocked()
		o.shown = nil
		o.mu.Unlock()
	})
}

func (o *runOutput) close() { o.stop() }

// Write prints log output above the live block.
func (o *runOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.clearLocked()
	n, err := o.w.Write(p)
	o.drawLocked()
	return n, err
}

// event reports a runner event.
func (o *runOutput) event(e scheduler.Event) {
	if !o.live {
		o.logEvent(e)
		return
	}
	var line string
	at := e.Time.Local().Format("15:04:05")
	what := fmt.Sprintf("job %d %s", e.JobID, e.JobName)
	if e.Task != "" {
		what += " › " + e.Task
	}
	switch e.Kind {
	case scheduler.TaskRecovered:
		line = fmt.Sprintf("%s %s was interrupted by a crash: %s", at, what, e.Status)
	case scheduler.TaskStarted:
		line = fmt.Sprintf("%s %s started", at, what)
	case scheduler.TaskEnded:
		switch e.Status {
		case jobstore.TaskQueued:
			line = fmt.Sprintf("%s %s interrupted after %s: it runs again next time", at, what, round(e.Took))
		case jobstore.TaskCompleted:
			line = fmt.Sprintf("%s %s completed in %s", at, what, round(e.Took))
		default:
			line = fmt.Sprintf("%s %s %s after %s: %s", at, what, strings.ToUpper(e.Status), round(e.Took), e.Message)
		}
	case scheduler.JobEnded:
		line = fmt.Sprintf("%s %s: %s", at, what, strings.ToUpper(e.Status))
		if e.Message != "" && e.Status != jobstore.TaskCompleted {
			line += ": " + e.Message
		}
		if !e.NextDue.IsZero() {
			line += fmt.Sprintf("; runs again at %s", e.NextDue.Local().Format("2006-01-02 15:04:05"))
		}
	}
	o.mu.Lock()
	if e.Kind == scheduler.TaskEnded {
		// Gone from the block at once, not at the next redraw.
		kept := o.shown[:0]
		for _, p := range o.shown {
			if p.JobID != e.JobID || p.Task != e.Task {
				kept = append(kept, p)
			}
		}
		o.shown = kept
	}
	o.mu.Unlock()
	_, _ = o.Write([]byte(line + "\n"))
}

func round(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(100 * time.Millisecond)
}

// logEvent turns an event into a log line.
func (o *runOutput) logEvent(e scheduler.Event) {
	args := []any{"job", e.JobID, "name", e.JobName}
	if e.Task != "" {
		args = append(args, "task", e.Task)
	}
	if e.Run > 1 {
		args = append(args, "run", e.Run)
	}
	switch e.Kind {
	case scheduler.TaskRecovered:
		o.logger.Warn("task was interrupted by a crash", append(args, "now", e.Status)...)
	case scheduler.TaskStarted:
		o.logger.Info("task started", args...)
	case scheduler.TaskEnded:
		args = append(args, "status", e.Status, "took", round(e.Took))
		switch e.Status {
		case jobstore.TaskCompleted:
			o.logger.Info("task completed", args...)
		case jobstore.TaskQueued:
			o.logger.Info("task interrupted; it runs again next time", args...)
		case jobstore.TaskCanceled:
			// Someone canceled the job, or another of its tasks failed
			// (that failure is the error).
			o.logger.Info("task canceled", append(args, "why", e.Message)...)
		default:
			o.logger.Error("task "+e.Status, append(args, "why", e.Message)...)
		}
	case scheduler.JobEnded:
		args = append(args, "status", e.Status)
		if e.Message != "" {
			args = append(args, "why", e.Message)
		}
		if !e.NextDue.IsZero() {
			args = append(args, "next_run", e.NextDue.Format(time.RFC3339))
		}
		if e.Status == jobstore.TaskFailed {
			o.logger.Error("job ended", args...)
		} else {
			o.logger.Info("job ended", args...)
		}
	}
}

// logProgress logs the progress of tasks whose steps or activity changed.
func (o *runOutput) logProgress(ps []scheduler.Progress) {
	seen := map[string]bool{}
	for _, p := range ps {
		key := fmt.Sprintf("%d/%s", p.JobID, p.Task)
		seen[key] = true
		state := fmt.Sprintf("%d/%d %s", p.StepsDone, p.StepsTotal, p.Activity)
		if o.last[key] == state {
			continue
		}
		o.last[key] = state
		o.logger.Info("task progress", "job", p.JobID, "task", p.Task, "steps", fmt.Sprintf("%d/%d", p.StepsDone, p.StepsTotal),
			"activity", p.Activity, "elapsed", time.Since(p.Started).Round(time.Second))
	}
	for k := range o.last {
		if !seen[k] {
			delete(o.last, k)
		}
	}
}

// clearLocked erases the live block (the cursor is below it).
func (o *runOutput) clearLocked() {
	if !o.live || o.drawn == 0 {
		return
	}
	fmt.Fprintf(o.w, "\x1b[%dA\r\x1b[J", o.drawn)
	o.drawn = 0
}

// redrawLocked replaces the live block.
func (o *runOutput) redrawLocked() {
	o.clearLocked()
	o.drawLocked()
}

// drawLocked writes the live block below the cursor.
func (o *runOutput) drawLocked() {
	if !o.live || len(o.shown) == 0 {
		return
	}
	width := 100
	if w, _, err := term.GetSize(o.fd); err == nil && w > 20 {
		width = w
	}
	var b strings.Builder
	for _, p := range o.shown {
		b.WriteString(fit(progressLine(p, time.Now()), width-1))
		b.WriteString("\n")
	}
	_, _ = io.WriteString(o.w, b.String())
	o.drawn = len(o.shown)
}

// progressLine is one running task: job and task, a bar with the steps,
// elapsed time, activity and the latest log line.
func progressLine(p scheduler.Progress, now time.Time) string {
	bar := stepBar(p.StepsDone, p.StepsTotal, 12)
	elapsed := now.Sub(p.Started)
	line := fmt.Sprintf("  job %d %s › %s  %s %d/%d  %s", p.JobID, p.JobName, p.Task, bar, p.StepsDone, p.StepsTotal, clockDuration(elapsed))
	if p.Activity != "" {
		line += "  " + p.Activity
	}
	if p.LastLine != "" && p.LastLine != p.Activity {
		line += "  | " + strings.TrimSpace(p.LastLine)
	}
	return line
}

// stepBar draws done of total steps as a bar of width cells.
func stepBar(done, total, width int) string {
	filled := 0
	if total > 0 {
		filled = max(0, min(width, done*width/total))
	}
	return strings.Repeat("█", filled) + strings.Repeat("░", width-filled)
}

// clockDuration shows a duration as m:ss or h:mm:ss.
func clockDuration(d time.Duration) string {
	s := int(d.Seconds())
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// fit cuts s to width runes, ending with "…" when cut, and drops control
// characters that would break the block.
func fit(s string, width int) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if utf8.RuneCountInString(s) <= width {
		return s
	}
	r := []rune(s)
	return string(r[:max(width-1, 0)]) + "…"
}
