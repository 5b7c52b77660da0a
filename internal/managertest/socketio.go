package managertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/coder/websocket"
)

// The event stream of the real Manager (internal/flamencotrace's
// 3.8.5-socketio recordings): Socket.IO 2 over Engine.IO 3 on /socket.io/,
// websocket transport only. The fake sends what a worker can use of it: the
// handshake, acks of subscriptions, "/jobs" updates to the subscribers of all
// jobs when a job's status changes, "/task" updates to the subscribers of a
// job when one of its tasks changes status, and "/workers" updates to the
// subscribers of all workers when a worker status change is requested. A cancelled job is one
// "/jobs" cancel-requested update with refresh_tasks, then canceled, and no
// "/task" update, as the real Manager sends it.

// socketIOPath is where the stream is served.
const socketIOPath = "/socket.io/"

// StreamFault makes the event stream misbehave for new connections.
type StreamFault int

const (
	// StreamOK serves the stream as the real Manager does.
	StreamOK StreamFault = iota
	// StreamRefused answers 503 instead of upgrading.
	StreamRefused
	// StreamNoUpgrade plays a proxy that does not pass websocket upgrades:
	// a 200 with a page, no switch of protocols.
	StreamNoUpgrade
	// StreamGarbage upgrades, then sends frames that are no Engine.IO packet.
	StreamGarbage
	// StreamSilent upgrades and sends the handshake and acks, then nothing
	// at all: no events, no answers to pings.
	StreamSilent
)

// streamPing are the real Manager's timings, sent in the handshake.
const streamHandshake = `{"sid":"%s","upgrades":[],"pingInterval":30000,"pingTimeout":60000}`

// streamConn is one connected stream client.
type streamConn struct {
	conn    *websocket.Conn
	out     chan []byte // frames to send; full means a stuck client: drop it
	silent  bool
	allJobs bool
	allWork bool // allWorkers
	jobs    map[string]bool
	cancel  context.CancelFunc
}

// streamState is the fake's event stream bookkeeping, under Manager.mu.
type streamState struct {
	fault     StreamFault
	conns     map[*streamConn]bool
	connects  int
	attempts  int
	sentJob   map[string]string // job id -> status last sent
	sentTask  map[string]string // task id -> status last sent
	subscribe []string          // every subscription received, "type op uuid"
}

// SetStreamFault makes new event stream connections misbehave; StreamOK
// ends it. Connections already open stay as they are (DropStreams ends them).
func (m *Manager) SetStreamFault(f StreamFault) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stream.fault = f
}

// DropStreams closes every open event stream connection.
func (m *Manager) DropStreams() {
	m.mu.Lock()
	conns := make([]*streamConn, 0, len(m.stream.conns))
	for c := range m.stream.conns {
		conns = append(conns, c)
	}
	m.mu.Unlock()
	for _, c := range conns {
		c.cancel()
		_ = c.conn.CloseNow()
	}
}

// StreamClients is the number of event stream connections open now.
func (m *Manager) StreamClients() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.stream.conns)
}

// StreamSubscribers is the number of open connections subscribed to all jobs.
func (m *Manager) StreamSubscribers() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for c := range m.stream.conns {
		if c.allJobs {
			n++
		}
	}
	return n
}

// StreamConnects is how many event stream connections were upgraded.
func (m *Manager) StreamConnects() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stream.connects
}

// StreamSubscriptions lists every subscription received, as "type op uuid".
func (m *Manager) StreamSubscriptions() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.stream.subscribe...)
}

// StreamAttempts is how many requests reached the event stream's path,
// refused ones included.
func (m *Manager) StreamAttempts() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stream.attempts
}

func (m *Manager) serveSocketIO(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	fault := m.stream.fault
	m.stream.attempts++
	m.notify()
	m.mu.Unlock()
	switch fault {
	case StreamRefused:
		writeError(w, http.StatusServiceUnavailable, "event stream refused (test fault)")
		return
	case StreamNoUpgrade:
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html><body>proxy page</body></html>"))
		return
	}
	if q := r.URL.Query(); q.Get("EIO") != "3" || q.Get("transport") != "websocket" {
		m.mu.Lock()
		m.protocolError("event stream: query %q, want EIO=3&transport=websocket", r.URL.RawQuery)
		m.mu.Unlock()
		writeError(w, http.StatusBadRequest, "want EIO=3&transport=websocket")
		return
	}
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept answered the client already
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &streamConn{conn: conn, out: make(chan []byte, 256), jobs: map[string]bool{}, cancel: cancel,
		silent: fault == StreamSilent}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		cancel()
		_ = conn.CloseNow()
		return
	}
	m.stream.conns[c] = true
	m.stream.connects++
	m.notify()
	m.mu.Unlock()
	defer func() {
		cancel()
		_ = conn.CloseNow()
		m.mu.Lock()
		delete(m.stream.conns, c)
		m.notify()
		m.mu.Unlock()
	}()
	go c.writeLoop(ctx)
	if fault == StreamGarbage {
		c.send([]byte("this is not an engine.io packet"))
	} else {
		c.send([]byte("0" + fmt.Sprintf(streamHandshake, newUUID()[:20])))
		c.send([]byte("40"))
	}
	for {
		_, b, err := conn.Read(ctx)
		if err != nil {
			return
		}
		m.streamFrame(c, b)
	}
}

// send queues a frame; a client that does not read is dropped, as the real
// Manager drops an overflowing one.
func (c *streamConn) send(b []byte) {
	select {
	case c.out <- b:
	default:
		c.cancel()
	}
}

func (c *streamConn) writeLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case b := <-c.out:
			if c.silent && !bytes.HasPrefix(b, []byte("0")) && !bytes.Equal(b, []byte("40")) && !bytes.HasPrefix(b, []byte("43")) {
				continue
			}
			wctx, stop := context.WithTimeout(ctx, 10*time.Second)
			err := c.conn.Write(wctx, websocket.MessageText, b)
			stop()
			if err != nil {
				c.cancel()
				return
			}
		}
	}
}

// streamFrame handles one frame from a client: pings and subscriptions.
func (m *Manager) streamFrame(c *streamConn, b []byte) {
	switch {
	case bytes.Equal(b, []byte("2")):
		c.send([]byte("3"))
		return
	case bytes.Equal(b, []byte("3")):
		return
	case !bytes.HasPrefix(b, []byte("42")):
		m.mu.Lock()
		m.protocolError("event stream: unexpected frame %q", b)
		m.mu.Unlock()
		return
	}
	rest := b[2:]
	i := 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
		i++
	}
	ackID := -1
	if i > 0 {
		ackID, _ = strconv.Atoi(string(rest[:i]))
	}
	answer := m.subscription(c, rest[i:])
	if ackID >= 0 {
		quoted, _ := json.Marshal(answer)
		c.send([]byte("43" + strconv.Itoa(ackID) + "[" + string(quoted) + "]"))
	}
}

// subscription applies a "/subscription" event and returns the Manager's
// answer ("ok" or its complaint).
func (m *Manager) subscription(c *streamConn, args []byte) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var list []json.RawMessage
	if err := json.Unmarshal(args, &list); err != nil || len(list) != 2 {
		m.protocolError("event stream: event %q is not [name, payload]", args)
		return "malformed event"
	}
	var name string
	if json.Unmarshal(list[0], &name) != nil || name != "/subscription" {
		m.protocolError("event stream: event %s, the Manager only takes /subscription", list[0])
		return "unknown event"
	}
	var sub struct {
		Type string  `json:"type"`
		Op   string  `json:"op"`
		UUID *string `json:"uuid"`
	}
	dec := json.NewDecoder(bytes.NewReader(list[1]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sub); err != nil {
		m.protocolError("event stream: subscription %s: %v", list[1], err)
		return "bad subscription"
	}
	uuid := ""
	if sub.UUID != nil {
		uuid = *sub.UUID
	}
	m.stream.subscribe = append(m.stream.subscribe, sub.Type+" "+sub.Op+" "+uuid)
	m.notify()
	on := sub.Op == "subscribe"
	if !on && sub.Op != "unsubscribe" {
		return "unable to perform subscription operation: invalid subscription operation, ignoring request"
	}
	switch sub.Type {
	case "allJobs":
		c.allJobs = on
	case "allWorkers":
		c.allWork = on
	case "job":
		if uuid == "" {
			return "operation on job requires a UUID"
		}
		if on {
			c.jobs[uuid] = true
		} else {
			delete(c.jobs, uuid)
		}
	default:
		return "unknown subscription type, ignoring request"
	}
	return "ok"
}

// jobEvent and taskEvent are the Manager's EventJobUpdate and EventTaskUpdate.
type jobEvent struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	PreviousStatus string `json:"previous_status,omitempty"`
	Priority       int    `json:"priority"`
	RefreshTasks   bool   `json:"refresh_tasks"`
	Status         string `json:"status"`
	StepsCompleted int    `json:"steps_completed"`
	StepsTotal     int    `json:"steps_total"`
	Type           string `json:"type"`
	Updated        string `json:"updated"`
}

type taskEvent struct {
	ID             string `json:"id"`
	JobID          string `json:"job_id"`
	Name           string `json:"name"`
	Updated        string `json:"updated"`
	Status         string `json:"status"`
	PreviousStatus string `json:"previous_status,omitempty"`
	Activity       string `json:"activity"`
	StepsCompleted int    `json:"steps_completed"`
	StepsTotal     int    `json:"steps_total"`
}

// streamChanges sends an event for every job and task whose status changed
// since the last one sent; call with mu held (notify does).
func (m *Manager) streamChanges() {
	for _, id := range m.jobOrder {
		j := m.jobs[id]
		for _, t := range j.tasks {
			if prev, seen := m.stream.sentTask[t.id]; !seen || prev != t.status {
				m.stream.sentTask[t.id] = t.status
				if seen {
					m.streamTask(t, prev)
				}
			}
		}
		st := j.status()
		if prev, seen := m.stream.sentJob[id]; !seen || prev != st {
			m.stream.sentJob[id] = st
			m.streamJob(j, st, prev, false)
		}
	}
}

// streamJob sends a "/jobs" update to every subscriber of all jobs.
func (m *Manager) streamJob(j *job, status, prev string, refresh bool) {
	done := 0
	for _, t := range j.tasks {
		if t.status == StatusCompleted {
			done++
		}
	}
	ev := jobEvent{ID: j.id, Name: j.name, PreviousStatus: prev, Priority: j.priority, RefreshTasks: refresh,
		Status: status, StepsCompleted: done, StepsTotal: len(j.tasks), Type: j.typ,
		Updated: time.Now().UTC().Format(time.RFC3339Nano)}
	frame := streamEvent("/jobs", ev)
	for c := range m.stream.conns {
		if c.allJobs {
			c.send(frame)
		}
	}
}

// streamTask sends a "/task" update to the subscribers of its job.
func (m *Manager) streamTask(t *task, prev string) {
	ev := taskEvent{ID: t.id, JobID: t.job.id, Name: t.name, Updated: time.Now().UTC().Format(time.RFC3339Nano),
		Status: t.status, PreviousStatus: prev, Activity: t.activity, StepsCompleted: t.steps, StepsTotal: t.total}
	frame := streamEvent("/task", ev)
	for c := range m.stream.conns {
		if c.jobs[t.job.id] {
			c.send(frame)
		}
	}
}

// workerEvent is the Manager's EventWorkerUpdate.
type workerEvent struct {
	ID           string        `json:"id"`
	Name         string        `json:"name"`
	Updated      string        `json:"updated"`
	LastSeen     string        `json:"last_seen"`
	Status       string        `json:"status"`
	StatusChange *statusChange `json:"status_change,omitempty"`
	Version      string        `json:"version"`
	CanRestart   bool          `json:"can_restart"`
}

type statusChange struct {
	Status string `json:"status"`
	IsLazy bool   `json:"is_lazy"`
}

// streamWorker sends a "/workers" update to the subscribers of all workers,
// as the real Manager does when a status change is requested; call with mu
// held.
func (m *Manager) streamWorker(w *worker) {
	now := time.Now().UTC().Format(time.RFC3339Nano)
	ev := workerEvent{ID: w.id, Name: w.name, Updated: now, LastSeen: now, Status: w.status,
		Version: w.software, CanRestart: w.canRestart}
	if w.requested != "" {
		ev.StatusChange = &statusChange{Status: w.requested, IsLazy: w.lazy}
	}
	frame := streamEvent("/workers", ev)
	for c := range m.stream.conns {
		if c.allWork {
			c.send(frame)
		}
	}
}

func streamEvent(name string, payload any) []byte {
	b, err := json.Marshal([]any{name, payload})
	if err != nil {
		panic("managertest: encoding an event: " + err.Error())
	}
	return append([]byte("42"), b...)
}
