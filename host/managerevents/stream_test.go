package managerevents_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/managerevents"
	"github.com/cajonfarm/cajon/internal/flamencotrace"
	"github.com/cajonfarm/cajon/internal/managertest"
	"github.com/cajonfarm/cajon/internal/testwait"
	"github.com/coder/websocket"
)

// quick are timings that let the tests see reconnects and silence soon.
var quick = managerevents.Timings{
	BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond,
	PingEvery: 50 * time.Millisecond, DeadAfter: 300 * time.Millisecond, DialTimeout: 2 * time.Second,
}

// counter is an Observer that counts.
type counter struct {
	mu         sync.Mutex
	events     map[string]int
	connects   int
	reconnects int
}

func (c *counter) StreamEvent(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.events == nil {
		c.events = map[string]int{}
	}
	c.events[name]++
}

func (c *counter) StreamConnected(reconnect bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.connects++
	if reconnect {
		c.reconnects++
	}
}

func (c *counter) get() (connects, reconnects int, events map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.connects, c.reconnects, maps(c.events)
}

func maps(m map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func startStream(t *testing.T, url string, obs *counter) *managerevents.Stream {
	t.Helper()
	opts := managerevents.Options{ManagerURL: url, Timings: quick}
	if obs != nil {
		opts.Observer = obs
	}
	s, err := managerevents.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return s
}

func up(s *managerevents.Stream) bool { u, _ := s.State(); return u }

func waitHint(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s within 10 s", what)
	}
}

func noHint(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return false
	default:
		return true
	}
}

func TestNewRefusesABadURL(t *testing.T) {
	for _, u := range []string{"ftp://mgr", "://x", "mgr:8080"} {
		if _, err := managerevents.New(managerevents.Options{ManagerURL: u}); err == nil {
			t.Errorf("New(%q) took the URL", u)
		}
	}
}

// TestHints: a queued job brings "fetch now"; the cancel of a watched
// task's job brings its nudge; the job's room is subscribed while the watch
// lasts.
func TestHints(t *testing.T) {
	m := managertest.New(t, managertest.Config{})
	obs := &counter{}
	s := startStream(t, m.URL(), obs)
	testwait.Within(t, "the stream to be up", 10*time.Second, func() bool { return up(s) })
	waitHint(t, s.FetchNow(), "fetch hint of coming up")

	job := m.AddJob(managertest.Job{Tasks: []managertest.Task{{Name: "a"}, {Name: "b"}}})
	waitHint(t, s.FetchNow(), "fetch hint for the queued job")

	nudge, stop := s.WatchTask(job.ID, job.Tasks[0].ID)
	waitHint(t, nudge, "the nudge of the confirmed subscription")
	if !noHint(nudge) {
		t.Fatal("a second nudge before anything happened to the job")
	}
	if err := m.CancelJob(job.ID); err != nil {
		t.Fatal(err)
	}
	waitHint(t, nudge, "nudge for the cancelled job")
	stop()
	testwait.Within(t, "the job's unsubscription", 10*time.Second, func() bool {
		return slices.Contains(m.StreamSubscriptions(), "job unsubscribe "+job.ID)
	})
	_, _, events := obs.get()
	if events["/jobs"] < 3 { // queued, cancel-requested, canceled
		t.Errorf("events seen: %v, want at least 3 /jobs", events)
	}
	m.CheckProtocol(t)
}

// TestTaskCancelNudges: the cancel of one task (a /task event in its job's
// room) nudges its watch, and not the watch of another task.
func TestTaskCancelNudges(t *testing.T) {
	m := managertest.New(t, managertest.Config{})
	obs := &counter{}
	s := startStream(t, m.URL(), obs)
	testwait.Within(t, "the stream to be up", 10*time.Second, func() bool { return up(s) })
	<-s.FetchNow()
	job := m.AddJob(managertest.Job{Tasks: []managertest.Task{{Name: "a"}, {Name: "b"}}})
	waitHint(t, s.FetchNow(), "fetch hint for the queued job")
	mine, stopMine := s.WatchTask(job.ID, job.Tasks[0].ID)
	defer stopMine()
	other, stopOther := s.WatchTask(job.ID, job.Tasks[1].ID)
	defer stopOther()
	// Each watch is nudged once when its subscription is confirmed.
	waitHint(t, mine, "the nudge of mine's confirmed subscription")
	waitHint(t, other, "the nudge of other's confirmed subscription")
	if err := m.CancelTask(job.Tasks[0].ID); err != nil {
		t.Fatal(err)
	}
	waitHint(t, mine, "nudge for the cancelled task")
	if !noHint(other) {
		// A stream that came back up nudges every watch (events may have
		// been missed), and a busy test machine can miss a pong.
		if _, reconnects, events := obs.get(); reconnects == 0 {
			t.Errorf("the other task's watch was nudged too (events seen: %v)", events)
		} else {
			t.Logf("the other watch was nudged by %d reconnect(s) of the stream", reconnects)
		}
	}
}

// TestStreamFaults: a stream that is refused, not upgraded by a proxy, or
// garbage never counts as up, and the client keeps trying until it works.
func TestStreamFaults(t *testing.T) {
	for _, tt := range []struct {
		name  string
		fault managertest.StreamFault
	}{
		{"refused", managertest.StreamRefused},
		{"proxy without websockets", managertest.StreamNoUpgrade},
		{"garbage", managertest.StreamGarbage},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := managertest.New(t, managertest.Config{})
			m.SetStreamFault(tt.fault)
			obs := &counter{}
			s := startStream(t, m.URL(), obs)
			testwait.Within(t, "three connection attempts", 10*time.Second, func() bool { return m.StreamAttempts() >= 3 })
			if up(s) {
				t.Fatal("the stream counts as up")
			}
			if c, _, _ := obs.get(); c != 0 {
				t.Fatalf("StreamConnected called %d times", c)
			}
			m.SetStreamFault(managertest.StreamOK)
			testwait.Within(t, "the stream to come up once the fault is gone", 10*time.Second, func() bool { return up(s) })
		})
	}
}

// TestSilentStream: a stream that stops answering (no events, no pongs)
// counts as down within DeadAfter, and the client reconnects.
func TestSilentStream(t *testing.T) {
	m := managertest.New(t, managertest.Config{})
	m.SetStreamFault(managertest.StreamSilent)
	obs := &counter{}
	s := startStream(t, m.URL(), obs)
	testwait.Within(t, "the stream to be up", 10*time.Second, func() bool { return up(s) })
	_, changed := s.State()
	select {
	case <-changed:
	case <-time.After(10 * time.Second):
		t.Fatal("a silent stream still counts as up after 10 s")
	}
	testwait.Within(t, "a second connection", 10*time.Second, func() bool { return m.StreamConnects() >= 2 })
	m.SetStreamFault(managertest.StreamOK)
	m.DropStreams()
	testwait.Within(t, "a working stream to be up", 10*time.Second, func() bool { return up(s) && m.StreamSubscribers() == 1 })
}

// TestManagerRestart: the stream goes down with the Manager, comes back up
// after it, resubscribes the watched job, and hints a fetch and a may-i-run
// (events may have been missed meanwhile).
func TestManagerRestart(t *testing.T) {
	m := managertest.New(t, managertest.Config{})
	obs := &counter{}
	s := startStream(t, m.URL(), obs)
	testwait.Within(t, "the stream to be up", 10*time.Second, func() bool { return up(s) })
	<-s.FetchNow()
	job := m.AddJob(managertest.Job{Tasks: []managertest.Task{{Name: "a"}}})
	<-s.FetchNow()
	nudge, stop := s.WatchTask(job.ID, job.Tasks[0].ID)
	defer stop()
	testwait.Within(t, "the job's subscription", 10*time.Second, func() bool {
		return slices.Contains(m.StreamSubscriptions(), "job subscribe "+job.ID)
	})

	if err := m.SetFault(managertest.Fault{Down: true}); err != nil {
		t.Fatal(err)
	}
	testwait.Within(t, "the stream to be down", 10*time.Second, func() bool { return !up(s) })
	if err := m.ClearFaults(); err != nil {
		t.Fatal(err)
	}
	testwait.Within(t, "the stream to be up again", 10*time.Second, func() bool { return up(s) })
	waitHint(t, s.FetchNow(), "fetch hint after the reconnect")
	waitHint(t, nudge, "may-i-run hint after the reconnect")
	if !testwait.Poll(10*time.Second, func() bool {
		n := 0
		for _, sub := range m.StreamSubscriptions() {
			if sub == "job subscribe "+job.ID {
				n++
			}
		}
		return n == 2
	}) {
		t.Fatalf("the job was not subscribed again after the restart: subscriptions %q", m.StreamSubscriptions())
	}
	if _, re, _ := obs.get(); re < 1 {
		t.Errorf("reconnects observed: %d, want 1 or more", re)
	}
}

// TestRecordedExchange plays the real Manager's recorded frames to the
// client: it subscribes as the recording did, comes up on the recorded ack,
// hints a fetch on the queued job and nudges the watch on the cancel.
func TestRecordedExchange(t *testing.T) {
	frames, err := flamencotrace.SocketIO("echo-sleep-cancel")
	if err != nil {
		t.Fatal(err)
	}
	// The recording's job and worker.
	const jobID, workerID = "449df63b-32da-42dc-a031-bb631d6f2849", "87db558c-aaef-461f-a82e-26ff1093c804"
	sent := make(chan string, 16)
	step := make(chan string) // the test tells the server what comes next
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer conn.CloseNow()
		ctx := r.Context()
		go func() {
			for {
				_, b, err := conn.Read(ctx)
				if err != nil {
					return
				}
				if string(b) != "2" {
					sent <- string(b)
				} else {
					_ = conn.Write(ctx, websocket.MessageText, []byte("3"))
				}
			}
		}()
		for _, f := range frames {
			if f.Dir == "send" {
				select {
				case got := <-sent:
					if got != f.Text {
						t.Errorf("the client sent %s, the recording %s", got, f.Text)
					}
				case <-time.After(10 * time.Second):
					t.Errorf("the client did not send %s", f.Text)
					return
				}
				continue
			}
			if f.Note != "" {
				<-step
			}
			if err := conn.Write(ctx, websocket.MessageText, []byte(f.Text)); err != nil {
				return
			}
		}
		<-ctx.Done()
	}))
	defer srv.Close()

	obs := &counter{}
	s := startStream(t, srv.URL, obs)
	testwait.Within(t, "the stream to be up", 10*time.Second, func() bool { return up(s) })
	waitHint(t, s.FetchNow(), "fetch hint of coming up")
	step <- "submit"
	waitHint(t, s.FetchNow(), "fetch hint for the queued job")
	nudge, stop := s.WatchTask(jobID, "some-task")
	defer stop()
	step <- "cancel"
	waitHint(t, nudge, "nudge for the cancel")
	s.SetWorker(workerID)
	for len(s.FetchNow()) > 0 {
		<-s.FetchNow()
	}
	step <- "sleep"
	waitHint(t, s.FetchNow(), "fetch hint for the worker's status change")
	_, _, events := obs.get()
	want := len(flamencotrace.Received(frames, `42["/jobs"`))
	testwait.Within(t, "every recorded /jobs event", 10*time.Second, func() bool {
		_, _, events = obs.get()
		return events["/jobs"] == want
	})
	if !strings.Contains(frames[0].Text, "pingInterval") {
		t.Fatal("the recording does not start with the handshake")
	}
}
