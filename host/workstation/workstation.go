// Package workstation tells whether a person is at the machine, so that a
// worker on an artist's desktop takes tasks only while nobody uses it.
//
// Detectors each see one kind of input (an X11 display's MIT-SCREEN-SAVER
// idle time, systemd-logind's idle hint); a Watcher polls them and keeps the
// shortest idle time any of them saw. The machine is in use while that time
// is under the configured idle_before_work.
package workstation

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Detector reports how long ago one source of input last saw a person.
type Detector interface {
	// Name says what is watched, e.g. "x11 :0", for logs and /healthz.
	Name() string
	// Idle returns the time since the last input this detector sees. An
	// error means it could not tell (display gone, no bus); the Watcher then
	// leaves it out.
	Idle(ctx context.Context) (time.Duration, error)
	// Close releases the detector's connection.
	Close() error
}

// detectorTimeout bounds one detector's answer.
const detectorTimeout = 5 * time.Second

// Status is what the Watcher saw at its last poll.
type Status struct {
	// InUse: a person gave input less than IdleBeforeWork ago.
	InUse bool
	// Idle is the shortest time since input among the detectors that
	// answered; meaningless when Seen is false.
	Idle time.Duration
	// Seen: at least one detector answered.
	Seen bool
	// By names the detector that saw the latest input.
	By string
	// Checked is when the detectors were last polled; zero before the first poll.
	Checked time.Time
}

// Reason says, for a log line or /healthz, why the worker takes no task;
// "" when the machine is free.
func (s Status) Reason(idleBeforeWork time.Duration) string {
	if !s.InUse {
		return ""
	}
	if s.Checked.IsZero() {
		return "the workstation's input was not read yet"
	}
	return fmt.Sprintf("a person is using this workstation (input %s ago on %s; tasks resume after %s without input)",
		s.Idle.Round(time.Second), s.By, idleBeforeWork)
}

// Options configure a Watcher.
type Options struct {
	// Detectors are polled in turn; at least one is required.
	Detectors []Detector
	// IdleBeforeWork is how long without input before the machine counts as free.
	IdleBeforeWork time.Duration
	// Poll is the time between two polls of the detectors.
	Poll time.Duration
	// Logger receives changes of state and detector failures; nil logs nothing.
	Logger hclog.Logger
	// Now is the clock; nil means time.Now (tests of Status need no other).
	Now func() time.Time
}

// Watcher polls the detectors and tells the worker whether a person uses
// the machine. Create it with NewWatcher; Run it; read it with Watch.
type Watcher struct {
	opts Options
	log  hclog.Logger

	mu      sync.Mutex
	st      Status
	changed chan struct{} // closed and replaced when InUse changes
	polled  chan struct{} // closed and replaced after every poll
	failing map[string]bool
}

// NewWatcher checks opts and returns a Watcher that counts as in use until
// its first poll: a worker must not take a task before it knows.
func NewWatcher(opts Options) (*Watcher, error) {
	if len(opts.Detectors) == 0 {
		return nil, errors.New("workstation: no detector: set workstation.x11_displays or workstation.logind")
	}
	if opts.Poll <= 0 || opts.IdleBeforeWork < 0 {
		return nil, fmt.Errorf("workstation: poll %s must be more than 0 and idle_before_work %s not negative", opts.Poll, opts.IdleBeforeWork)
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Watcher{
		opts: opts, log: opts.Logger,
		st:      Status{InUse: true},
		changed: make(chan struct{}), polled: make(chan struct{}),
		failing: map[string]bool{},
	}, nil
}

// IdleBeforeWork is the configured time without input before work.
func (w *Watcher) IdleBeforeWork() time.Duration { return w.opts.IdleBeforeWork }

// Watch returns the latest status and a channel closed when InUse changes.
func (w *Watcher) Watch() (Status, <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.st, w.changed
}

// Polled returns a channel closed after the next poll (for tests and
// benchmarks that wait for the watcher to have seen something).
func (w *Watcher) Polled() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.polled
}

// Run polls the detectors until ctx ends, then closes them.
func (w *Watcher) Run(ctx context.Context) {
	defer func() {
		for _, d := range w.opts.Detectors {
			if err := d.Close(); err != nil {
				w.log.Debug("closing a workstation detector", "detector", d.Name(), "error", err)
			}
		}
	}()
	t := time.NewTicker(w.opts.Poll)
	defer t.Stop()
	for {
		w.poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// poll asks every detector once and updates the status.
func (w *Watcher) poll(ctx context.Context) {
	st := Status{Checked: w.opts.Now()}
	for _, d := range w.opts.Detectors {
		// A hung X server or bus must not stop the watching.
		dctx, cancel := context.WithTimeout(ctx, detectorTimeout)
		idle, err := d.Idle(dctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		w.noteFailure(d.Name(), err)
		if err != nil {
			continue
		}
		if !st.Seen || idle < st.Idle {
			st.Idle, st.By = idle, d.Name()
		}
		st.Seen = true
	}
	// No detector answering means no session to see (the display closed at
	// logout, logind gone): the machine counts as free, and the failures are
	// in the log.
	st.InUse = st.Seen && st.Idle < w.opts.IdleBeforeWork
	w.mu.Lock()
	was := w.st
	w.st = st
	if was.InUse != st.InUse || was.Checked.IsZero() {
		close(w.changed)
		w.changed = make(chan struct{})
	}
	close(w.polled)
	w.polled = make(chan struct{})
	w.mu.Unlock()
	switch {
	case st.InUse && (!was.InUse || was.Checked.IsZero()):
		w.log.Info("a person is using this workstation: the worker takes no task", "input_ago", st.Idle.Round(time.Second), "seen_by", st.By)
	case !st.InUse && (was.InUse || was.Checked.IsZero()):
		if st.Seen {
			w.log.Info("no input on this workstation for idle_before_work: the worker may take tasks",
				"input_ago", st.Idle.Round(time.Second), "seen_by", st.By, "idle_before_work", w.opts.IdleBeforeWork)
		} else {
			w.log.Warn("no workstation detector answers: counting the machine as free; check workstation.x11_displays and workstation.logind")
		}
	}
}

// noteFailure logs a detector's failure when it starts and its recovery.
func (w *Watcher) noteFailure(name string, err error) {
	switch {
	case err != nil && !w.failing[name]:
		w.failing[name] = true
		w.log.Warn("a workstation detector cannot tell when input was last seen; left out until it answers", "detector", name, "error", err)
	case err == nil && w.failing[name]:
		delete(w.failing, name)
		w.log.Info("a workstation detector answers again", "detector", name)
	}
}
