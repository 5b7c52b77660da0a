package worker

import (
	"context"
	"time"

	"github.com/cajonfarm/cajon/host/backoff"

	"github.com/cajonfarm/cajon/host/managerevents"
	"github.com/cajonfarm/cajon/host/workstation"
)

// eventStream is what the worker takes from the Manager's event stream;
// *managerevents.Stream is one. Its hints only bring a fetch or a may-i-run
// forward: the answers of those polls decide.
type eventStream interface {
	Run(ctx context.Context)
	FetchNow() <-chan struct{}
	State() (up bool, changed <-chan struct{})
	WatchTask(jobID, taskID string) (nudge <-chan struct{}, stop func())
	SetWorker(id string)
}

// Where a pickup or an abort came from, for the Observer.
const (
	SourceStream = "stream" // an event of the Manager's event stream brought the poll forward
	SourcePoll   = "poll"   // the poll's own period
)

// openEventStream makes the Manager's event stream when
// manager.event_stream is on.
func (w *Worker) openEventStream(opts Options) error {
	if !w.mc.EventStream {
		return nil
	}
	var obs managerevents.Observer
	if opts.Observer != nil {
		obs = opts.Observer
	}
	s, err := managerevents.New(managerevents.Options{
		ManagerURL: w.mc.URL, HTTPClient: opts.HTTPClient, Logger: w.log.Named("events"),
		Observer: obs, Timings: w.tm.Events,
	})
	if err != nil {
		return err
	}
	w.events = s
	return nil
}

// runEventStream runs the stream until the returned stop is called.
func (w *Worker) runEventStream(ctx context.Context) (stop func()) {
	if w.events == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); w.events.Run(ctx) }()
	return func() { cancel(); <-done }
}

// streamUp reports whether the event stream is up, and a channel closed when
// that changes (nil without a stream: it never changes).
func (w *Worker) streamUp() (bool, <-chan struct{}) {
	if w.events == nil {
		return false, nil
	}
	return w.events.State()
}

// fetchHints delivers the stream's "fetch now"; nil without a stream.
func (w *Worker) fetchHints() <-chan struct{} {
	if w.events == nil {
		return nil
	}
	return w.events.FetchNow()
}

// waitIdle waits before the next fetch after one that found no task: the
// next step of wait, capped by event_fetch_backoff_max while the stream is
// up and by fetch_backoff_max otherwise. A "fetch now" of the stream ends
// the wait early; a stream that goes down shortens it to the stream-less
// cap. It reports whether to fetch (false: ctx ended) and whether a hint
// ended the wait.
func (w *Worker) waitIdle(ctx context.Context, wait *backoff.Backoff) (fetch, hinted bool) {
	up, changed := w.streamUp()
	wait.SetMax(w.fetchBackoffMax(up))
	start := time.Now()
	d := wait.Next()
	t := time.NewTimer(d)
	defer t.Stop()
	var person <-chan struct{} // a person came back: sign off without waiting out d
	if w.ws != nil {
		var st workstation.Status
		if st, person = w.ws.Watch(); st.InUse {
			return true, false // came back since the fetch
		}
	}
	for {
		select {
		case <-ctx.Done():
			return false, false
		case <-t.C:
			return true, false
		case <-person:
			return true, false
		case <-w.fetchHints():
			return true, true
		case <-changed:
			up, changed = w.streamUp()
			if !up && d > w.mc.FetchBackoffMax {
				wait.SetMax(w.mc.FetchBackoffMax)
				d = w.mc.FetchBackoffMax
				t.Reset(max(0, time.Until(start.Add(d))))
			}
		}
	}
}

// fetchBackoffMax is the idle fetch cap for the stream's state.
func (w *Worker) fetchBackoffMax(up bool) time.Duration {
	m := w.mc.FetchBackoffMax
	if up {
		m = w.mc.EventFetchBackoffMax
	}
	return max(m, w.tm.FetchBackoffMin)
}

// mayIRunInterval is the may-i-run period for the stream's state.
func (w *Worker) mayIRunInterval(up bool) time.Duration {
	if up {
		return w.mc.EventMayIRunInterval
	}
	return w.mc.MayIRunInterval
}

// watchHints delivers the stream's hints about a running task; nil without a
// stream. stop ends the watch.
func (w *Worker) watchHints(jobID, taskID string) (<-chan struct{}, func()) {
	if w.events == nil {
		return nil, func() {}
	}
	return w.events.WatchTask(jobID, taskID)
}

// sleepOrHint waits d or until the stream hints a fetch; it reports false
// when ctx ended.
func (w *Worker) sleepOrHint(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-w.fetchHints():
		return true
	case <-ctx.Done():
		return false
	}
}
