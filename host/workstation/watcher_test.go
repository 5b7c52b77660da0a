package workstation_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/workstation"
	"github.com/cajonfarm/cajon/internal/testwait"
)

// fakeDetector reports the idle time the test sets.
type fakeDetector struct {
	name string
	mu   sync.Mutex
	idle time.Duration
	err  error
}

func (f *fakeDetector) Name() string { return f.name }
func (f *fakeDetector) Close() error { return nil }
func (f *fakeDetector) Idle(context.Context) (time.Duration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.idle, f.err
}
func (f *fakeDetector) set(idle time.Duration, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.idle, f.err = idle, err
}

func TestWatcher(t *testing.T) {
	a := &fakeDetector{name: "a", idle: time.Hour}
	b := &fakeDetector{name: "b", idle: time.Hour}
	w, err := workstation.NewWatcher(workstation.Options{
		Detectors: []workstation.Detector{a, b}, IdleBeforeWork: time.Minute, Poll: 5 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := w.Watch(); !st.InUse {
		t.Fatal("a watcher that has not polled yet must count as in use")
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	defer func() { cancel(); <-done }()

	steps := []struct {
		name       string
		a, b       time.Duration
		aErr, bErr error
		inUse      bool
		by         string
	}{
		{name: "both idle long", a: time.Hour, b: 2 * time.Hour, inUse: false, by: "a"},
		{name: "input on b", a: time.Hour, b: time.Second, inUse: true, by: "b"},
		{name: "b quiet again, still under idle_before_work", a: time.Hour, b: 59 * time.Second, inUse: true, by: "b"},
		{name: "b quiet past idle_before_work", a: time.Hour, b: 61 * time.Second, inUse: false, by: "b"},
		{name: "a fails, b in use", aErr: errors.New("gone"), b: 0, inUse: true, by: "b"},
		{name: "no detector answers: free", aErr: errors.New("gone"), bErr: errors.New("gone"), inUse: false},
	}
	for _, s := range steps {
		a.set(s.a, s.aErr)
		b.set(s.b, s.bErr)
		// Two polls: the one running may have read the old values.
		<-w.Polled()
		<-w.Polled()
		st, _ := w.Watch()
		if st.InUse != s.inUse || (s.by != "" && st.By != s.by) {
			t.Fatalf("%s: status %+v, want in use %v seen by %q", s.name, st, s.inUse, s.by)
		}
	}
}

// The change channel is closed when the machine goes from free to in use.
func TestWatcherSignalsChange(t *testing.T) {
	d := &fakeDetector{name: "d", idle: time.Hour}
	w, err := workstation.NewWatcher(workstation.Options{Detectors: []workstation.Detector{d}, IdleBeforeWork: time.Minute, Poll: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	go w.Run(t.Context())
	testwait.For(t, "the machine to be free", func() bool { st, _ := w.Watch(); return !st.InUse })
	_, changed := w.Watch()
	d.set(0, nil)
	select {
	case <-changed:
	case <-time.After(testwait.Limit):
		t.Fatal("no change signalled after input")
	}
	if st, _ := w.Watch(); !st.InUse || st.Reason(w.IdleBeforeWork()) == "" {
		t.Fatalf("after input: %+v", st)
	}
}

func TestNewWatcherErrors(t *testing.T) {
	if _, err := workstation.NewWatcher(workstation.Options{Poll: time.Second}); err == nil {
		t.Error("no error without detectors")
	}
	if _, err := workstation.NewWatcher(workstation.Options{Detectors: []workstation.Detector{&fakeDetector{}}}); err == nil {
		t.Error("no error without a poll interval")
	}
}
