// Package managerevents listens to a Flamenco 3 Manager's event stream, the
// socket.io endpoint its web interface uses (Socket.IO 2 over Engine.IO 3,
// websocket transport only, as the Manager serves it), and turns job and
// task changes into hints for the worker: "fetch now" when a job is queued,
// and "ask may-i-run now" when the job or task a worker runs changes.
//
// A hint never decides anything: the worker's polls stay the source of truth
// and the fallback. The stream reconnects with backoff, and tells whether it
// is up so that the worker can poll less while it is.
//
// The client is our own, over github.com/coder/websocket: no maintained Go
// client of Engine.IO 3 exists (docs/ARCHITECTURE.md says why this one).
package managerevents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cajonfarm/cajon/sdk/phrase"

	"github.com/cajonfarm/cajon/host/backoff"

	"github.com/coder/websocket"
	"github.com/hashicorp/go-hclog"
)

// Observer watches the stream for metrics. All methods must be cheap and
// safe for concurrent use.
type Observer interface {
	// StreamEvent is called for every event received, by name ("/jobs").
	StreamEvent(name string)
	// StreamConnected is called when the stream is up (subscribed);
	// reconnect is false only for the first time.
	StreamConnected(reconnect bool)
}

// Timings are the stream's delays; a zero field takes its default.
type Timings struct {
	// BackoffMin and BackoffMax bound the wait between connection attempts
	// (default 1 s and 30 s; doubling, ±20% jitter).
	BackoffMin, BackoffMax time.Duration
	// PingEvery is how often the client pings the Manager (default 2.5 s). A
	// ping costs the Manager no database work.
	PingEvery time.Duration
	// DeadAfter is how long the stream may stay silent, pings unanswered,
	// before it counts as down and reconnects (default 6 s): a silent stream
	// must not hold the worker at the slower polling of a stream that is up.
	DeadAfter time.Duration
	// DialTimeout bounds the connection and the subscription (default 10 s).
	DialTimeout time.Duration
}

func (t Timings) withDefaults() Timings {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&t.BackoffMin, time.Second)
	def(&t.BackoffMax, 30*time.Second)
	def(&t.PingEvery, 2500*time.Millisecond)
	def(&t.DeadAfter, 6*time.Second)
	def(&t.DialTimeout, 10*time.Second)
	t.BackoffMax = max(t.BackoffMax, t.BackoffMin)
	t.DeadAfter = max(t.DeadAfter, t.PingEvery+t.PingEvery/2)
	return t
}

// Options configure a Stream.
type Options struct {
	// ManagerURL is the Manager's base URL (http or https).
	ManagerURL string
	// HTTPClient makes the websocket handshake; nil means a plain client.
	HTTPClient *http.Client
	// Logger receives the stream's messages; nil logs nothing.
	Logger hclog.Logger
	// Observer, when not nil, counts events and reconnects.
	Observer Observer
	// Timings tune the delays; zero fields take defaults.
	Timings Timings
}

// Stream is the event stream of one Manager. Create it with New, Run it once.
type Stream struct {
	url  string
	hc   *http.Client
	log  hclog.Logger
	obs  Observer
	tm   Timings
	fetc chan struct{} // "fetch now", buffered 1

	mu       sync.Mutex
	up       bool
	changed  chan struct{} // closed and replaced when up changes
	watches  map[*watch]bool
	sess     *session // the connected session; nil when none
	workerID string   // this worker's id, for its own "/workers" updates
	everUp   bool
	upAt     time.Time // when the stream last came up
}

// watch is one running task whose changes the worker wants at once.
type watch struct {
	job, task string
	nudge     chan struct{} // buffered 1
}

// New checks opts and returns a Stream that is not connected yet.
func New(opts Options) (*Stream, error) {
	u, err := streamURL(opts.ManagerURL)
	if err != nil {
		return nil, err
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	log := opts.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Stream{
		url: u, hc: hc, log: log, obs: opts.Observer, tm: opts.Timings.withDefaults(),
		fetc:    make(chan struct{}, 1),
		changed: make(chan struct{}),
		watches: map[*watch]bool{},
	}, nil
}

// streamURL is the websocket URL of the Manager's socket.io endpoint.
func streamURL(manager string) (string, error) {
	u, err := url.Parse(manager)
	if err != nil {
		return "", fmt.Errorf("managerevents: Manager URL %q: %w", manager, err)
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("managerevents: Manager URL %q: scheme must be http or https", manager)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/socket.io/"
	u.RawQuery = "EIO=3&transport=websocket"
	return u.String(), nil
}

// FetchNow delivers a value when a job was queued or the stream came up
// (events may have been missed while it was down): a fetch may find work.
func (s *Stream) FetchNow() <-chan struct{} { return s.fetc }

// State reports whether the stream is up (connected and subscribed) and a
// channel that is closed when that changes.
func (s *Stream) State() (up bool, changed <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.up, s.changed
}

// WatchTask subscribes to the job of a running task. nudge delivers a value
// when the Manager confirmed the subscription (what happened before it came
// by no event), when the task or its job changed in a way that may end the
// task (cancel, pause, requeue, ...), or when the stream came back up; stop
// ends the watch.
func (s *Stream) WatchTask(jobID, taskID string) (nudge <-chan struct{}, stop func()) {
	w := &watch{job: jobID, task: taskID, nudge: make(chan struct{}, 1)}
	s.mu.Lock()
	s.watches[w] = true
	sess := s.sess
	s.mu.Unlock()
	if sess != nil {
		sess.subscribe(jobID, true, w)
	}
	return w.nudge, func() {
		s.mu.Lock()
		delete(s.watches, w)
		others := s.watchingJob(jobID)
		sess := s.sess
		s.mu.Unlock()
		if sess != nil && !others {
			sess.subscribe(jobID, false, nil)
		}
	}
}

// SetWorker names the worker whose status change requests ("/workers"
// updates with a status_change) bring a fetch and every watch forward: the
// fetch or the may-i-run answer then carries the change.
func (s *Stream) SetWorker(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.workerID = id
}

// watchingJob reports whether a watch is on job; call with mu held.
func (s *Stream) watchingJob(job string) bool {
	for w := range s.watches {
		if w.job == job {
			return true
		}
	}
	return false
}

func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Run connects and keeps the stream connected until ctx ends.
func (s *Stream) Run(ctx context.Context) {
	wait := backoff.Backoff{Min: s.tm.BackoffMin, Max: s.tm.BackoffMax, Jitter: 0.2}
	for ctx.Err() == nil {
		wasUp, err := s.connect(ctx)
		s.setDown()
		if ctx.Err() != nil {
			return
		}
		s.mu.Lock()
		lasted := time.Since(s.upAt)
		s.mu.Unlock()
		// A stream that keeps dropping soon after it came up (a proxy
		// that cuts websockets, a silent Manager) backs off like one that
		// cannot connect, and is logged once.
		if wasUp && lasted >= stableAfter {
			wait.Reset()
			s.log.Warn("the Manager's event stream went down; the worker polls at the stream-less rate until it is back", "error", err)
		} else {
			if wait.Failures() == 0 {
				s.log.Warn("the Manager's event stream is not available; the worker polls at the stream-less rate and keeps trying",
					"url", s.url, "error", err)
			} else {
				s.log.Debug("the Manager's event stream is still not available", "attempt", wait.Failures()+1, "error", err)
			}
		}
		d := wait.Next()
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

func (s *Stream) setUp(sess *session) {
	s.mu.Lock()
	s.up, s.sess, s.upAt = true, sess, time.Now()
	close(s.changed)
	s.changed = make(chan struct{})
	reconnect := s.everUp
	s.everUp = true
	watches := make([]*watch, 0, len(s.watches))
	for w := range s.watches {
		watches = append(watches, w)
	}
	s.mu.Unlock()
	if s.obs != nil {
		s.obs.StreamConnected(reconnect)
	}
	s.log.Info("the Manager's event stream is up: pickups and aborts follow its events", "reconnect", reconnect)
	// Events may have been missed while the stream was down.
	poke(s.fetc)
	for _, w := range watches {
		poke(w.nudge)
	}
}

func (s *Stream) setDown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sess = nil
	if s.up {
		s.up = false
		close(s.changed)
		s.changed = make(chan struct{})
	}
}

// session is one websocket connection.
type session struct {
	s     *Stream
	conn  *websocket.Conn
	ctx   context.Context
	ackID atomic.Int64
	heard atomic.Int64 // unix nanoseconds of the last frame received

	mu   sync.Mutex
	acks map[int]ack // ack id -> what it acknowledges
}

// stableAfter is how long a stream must have been up for its loss to count
// as a new outage (the backoff starts again, the loss is logged).
const stableAfter = time.Minute

// errSilent ends a session whose Manager stopped answering pings.
var errSilent = errors.New("the event stream went silent: no answer to pings")

// connect runs one connection until it fails; wasUp tells whether it got as
// far as its subscription.
func (s *Stream) connect(ctx context.Context) (wasUp bool, err error) {
	dialCtx, cancelDial := context.WithTimeout(ctx, s.tm.DialTimeout)
	defer cancelDial()
	conn, resp, err := websocket.Dial(dialCtx, s.url, &websocket.DialOptions{HTTPClient: s.hc})
	if err != nil {
		if resp != nil {
			return false, fmt.Errorf("connecting to %s: the Manager (or a proxy in front of it) answered %s instead of "+
				"switching to a websocket; a proxy must pass websocket upgrades on /socket.io/: %w", s.url, resp.Status, err)
		}
		return false, fmt.Errorf("connecting to %s: %w", s.url, err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(maxFrameBytes)
	sessCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sess := &session{s: s, conn: conn, ctx: sessCtx, acks: map[int]ack{}}
	sess.heard.Store(time.Now().UnixNano())

	// The handshake: the open packet, then the connect of the namespace.
	pk, err := sess.read(dialCtx)
	if err != nil {
		return false, err
	}
	if pk.Kind != KindOpen {
		return false, fmt.Errorf("the event stream began with a %s packet instead of the open handshake", pk.Kind)
	}
	subID := int(sess.ackID.Add(1))
	sess.mu.Lock()
	sess.acks[subID] = ack{what: "allJobs"}
	sess.mu.Unlock()
	if err := sess.send(dialCtx, "/subscription", subID, subscription{Type: "allJobs", Op: "subscribe"}); err != nil {
		return false, err
	}

	go sess.pinger(cancel)
	subscribed := false
	for {
		readCtx := sessCtx
		if !subscribed {
			// Until subscribed, the dial timeout bounds the wait.
			readCtx = dialCtx
		}
		pk, err := sess.read(readCtx)
		if err != nil {
			if c := context.Cause(sessCtx); c != nil && !errors.Is(c, context.Canceled) {
				err = c
			} else if !subscribed && dialCtx.Err() != nil && ctx.Err() == nil {
				err = fmt.Errorf("the Manager did not confirm the event subscription within %s", s.tm.DialTimeout)
			}
			return subscribed, err
		}
		switch pk.Kind {
		case KindClose, KindDisconnect:
			return subscribed, fmt.Errorf("the Manager closed the event stream (%s packet)", pk.Kind)
		case KindPing:
			_ = sess.write(sessCtx, []byte("3"))
		case KindAck:
			a, ok := sess.ackOf(pk.AckID)
			result := ackResult(pk.Args)
			if !ok {
				continue
			}
			what := a.what
			if result != "ok" {
				// Only a subscription to all jobs is essential.
				if what == "allJobs" {
					return subscribed, fmt.Errorf("the Manager refused the event subscription: %q", result)
				}
				s.log.Debug("the Manager refused a job subscription", "subscription", what, "answer", result)
				continue
			}
			if a.watch != nil {
				// The job's events come from now on; what happened to it
				// between the fetch and now has to be asked about once.
				poke(a.watch.nudge)
			}
			if what == "allJobs" && !subscribed {
				subscribed = true
				s.setUp(sess)
				s.resubscribe(sess)
			}
		case KindEvent:
			s.dispatch(pk)
		case KindError:
			s.log.Debug("the event stream sent an error packet", "text", phrase.Cut(string(pk.Data), shownBytes))
		}
	}
}

// resubscribe subscribes a new session to the jobs of the running tasks.
func (s *Stream) resubscribe(sess *session) {
	sess.subscribeAll("allWorkers")
	s.mu.Lock()
	jobs := map[string]bool{}
	for w := range s.watches {
		jobs[w.job] = true
	}
	s.mu.Unlock()
	for j := range jobs {
		sess.subscribe(j, true, nil)
	}
}

// subscription is the Manager's SocketIOSubscription.
type subscription struct {
	Type string `json:"type"`
	UUID string `json:"uuid,omitempty"`
	Op   string `json:"op"`
}

// subscribe (un)subscribes to one job's room; a failure shows when the
// session ends.
func (sess *session) subscribe(job string, on bool, w *watch) {
	op := "unsubscribe"
	if on {
		op = "subscribe"
	}
	id := int(sess.ackID.Add(1))
	sess.mu.Lock()
	sess.acks[id] = ack{what: op + " job " + job, watch: w}
	sess.mu.Unlock()
	ctx, cancel := context.WithTimeout(sess.ctx, sess.s.tm.DialTimeout)
	defer cancel()
	if err := sess.send(ctx, "/subscription", id, subscription{Type: "job", Op: op, UUID: job}); err != nil {
		sess.s.log.Debug("sending a job subscription failed; the stream reconnects", "job", job, "error", err)
		_ = sess.conn.CloseNow()
	}
}

// subscribeAll subscribes to one of the Manager's "all" rooms.
func (sess *session) subscribeAll(typ string) {
	id := int(sess.ackID.Add(1))
	sess.mu.Lock()
	sess.acks[id] = ack{what: typ}
	sess.mu.Unlock()
	ctx, cancel := context.WithTimeout(sess.ctx, sess.s.tm.DialTimeout)
	defer cancel()
	if err := sess.send(ctx, "/subscription", id, subscription{Type: typ, Op: "subscribe"}); err != nil {
		_ = sess.conn.CloseNow()
	}
}

func (sess *session) ackOf(id int) (ack, bool) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	a, ok := sess.acks[id]
	delete(sess.acks, id)
	return a, ok
}

// ack is what an ack id acknowledges: a subscription, and for a running
// task's job the watch that asked for it.
type ack struct {
	what  string
	watch *watch
}

// ackResult is the string an ack carries ("ok", or the Manager's complaint).
func ackResult(args []json.RawMessage) string {
	if len(args) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(args[0], &s) != nil {
		return phrase.Cut(string(args[0]), shownBytes)
	}
	return s
}

func (sess *session) send(ctx context.Context, name string, ackID int, payload any) error {
	b, err := EncodeEvent(name, ackID, payload)
	if err != nil {
		return err
	}
	return sess.write(ctx, b)
}

func (sess *session) write(ctx context.Context, b []byte) error {
	if err := sess.conn.Write(ctx, websocket.MessageText, b); err != nil {
		return fmt.Errorf("writing to the event stream: %w", err)
	}
	return nil
}

// read reads and parses the next text frame.
func (sess *session) read(ctx context.Context) (Packet, error) {
	typ, b, err := sess.conn.Read(ctx)
	if err != nil {
		return Packet{}, fmt.Errorf("reading the event stream: %w", err)
	}
	sess.heard.Store(time.Now().UnixNano())
	if typ != websocket.MessageText {
		return Packet{}, fmt.Errorf("the event stream sent a binary frame; the Manager sends only text")
	}
	return ParsePacket(b)
}

// pinger pings every PingEvery and ends the session when nothing came back
// for DeadAfter.
func (sess *session) pinger(cancel context.CancelCauseFunc) {
	tm := sess.s.tm
	t := time.NewTicker(tm.PingEvery)
	defer t.Stop()
	for {
		select {
		case <-sess.ctx.Done():
			return
		case <-t.C:
		}
		if time.Since(time.Unix(0, sess.heard.Load())) > tm.DeadAfter {
			cancel(errSilent)
			_ = sess.conn.CloseNow()
			return
		}
		ctx, stop := context.WithTimeout(sess.ctx, tm.PingEvery)
		err := sess.write(ctx, []byte("2"))
		stop()
		if err != nil {
			cancel(err)
			_ = sess.conn.CloseNow()
			return
		}
	}
}

// jobUpdate and taskUpdate are the fields of the Manager's EventJobUpdate and
// EventTaskUpdate that matter here.
type jobUpdate struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

type workerUpdate struct {
	ID           string           `json:"id"`
	StatusChange *json.RawMessage `json:"status_change"`
}

type taskUpdate struct {
	ID     string `json:"id"`
	JobID  string `json:"job_id"`
	Status string `json:"status"`
}

// dispatch turns one event into hints.
func (s *Stream) dispatch(pk Packet) {
	if s.obs != nil {
		s.obs.StreamEvent(pk.Name)
	}
	if len(pk.Args) == 0 {
		return
	}
	switch pk.Name {
	case "/jobs":
		var j jobUpdate
		if json.Unmarshal(pk.Args[0], &j) != nil {
			return
		}
		// Watches first, then the fetch: whoever sees the fetch hint sees
		// an event whose nudges have been given.
		if j.Status != "active" {
			s.nudge(func(w *watch) bool { return w.job == j.ID })
		}
		// A queued job has tasks to hand out; a requeueing one soon has.
		if j.Status == "queued" || j.Status == "requeueing" {
			poke(s.fetc)
		}
	case "/task":
		var t taskUpdate
		if json.Unmarshal(pk.Args[0], &t) != nil {
			return
		}
		if t.Status != "active" {
			s.nudge(func(w *watch) bool { return w.task == t.ID })
		}
		if t.Status == "queued" || t.Status == "soft-failed" {
			poke(s.fetc)
		}
	case "/workers":
		var wu workerUpdate
		if json.Unmarshal(pk.Args[0], &wu) != nil || wu.StatusChange == nil || string(*wu.StatusChange) == "null" {
			return
		}
		s.mu.Lock()
		mine := wu.ID != "" && wu.ID == s.workerID
		s.mu.Unlock()
		if mine {
			// A status change request: the fetch (423) or may-i-run (no,
			// status change requested) brings it; the asleep worker's poll too.
			poke(s.fetc)
			s.nudge(func(*watch) bool { return true })
		}
	}
}

func (s *Stream) nudge(match func(*watch) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for w := range s.watches {
		if match(w) {
			poke(w.nudge)
		}
	}
}
