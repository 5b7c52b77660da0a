package managertest

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"
)

// Fault makes the Manager misbehave for matching requests. Only the first
// matching fault applies to a request.
type Fault struct {
	// Op limits the fault to one operation (OpScheduleTask...); "" matches all.
	Op string
	// Path limits the fault to request paths with this prefix; "" matches all.
	Path string
	// Count is how many matching requests the fault affects; 0 means until
	// ClearFaults.
	Count int

	// Down closes the listener and every connection, so clients get
	// "connection refused" until ClearFaults; the port stays reserved for
	// the Manager's return. Op, Path and Count do not apply to it.
	Down bool
	// Status answers with this status (e.g. 502, 503) and an Error body.
	Status int
	// RetryAfter adds a Retry-After header (whole seconds) to Status.
	RetryAfter time.Duration
	// Conflict409 answers 409 as if the task were not this worker's.
	Conflict409 bool
	// Delay waits before answering. A client that gives up during the wait
	// is not answered, and (unless AfterHandling) the request is not handled.
	Delay time.Duration
	// Reset drops the connection (TCP reset) without answering.
	Reset bool
	// MalformedJSON handles the request, then answers with its body cut in
	// half (a 204 becomes a 200 with a broken body).
	MalformedJSON bool
	// AfterHandling makes the Manager act on the request first, then apply
	// Delay, Status, Conflict409 or Reset to the answer: the worker's
	// update landed although the worker saw a failure.
	AfterHandling bool
}

// The operations of the worker API, for Fault.Op and Request.Op.
const (
	OpVersion        = "version"
	OpRegister       = "register"
	OpSignOn         = "sign-on"
	OpSignOff        = "sign-off"
	OpState          = "state"
	OpStateChanged   = "state-changed"
	OpScheduleTask   = "schedule-task"
	OpTaskUpdate     = "task-update"
	OpMayIRun        = "may-i-run"
	OpOutputProduced = "output-produced"
)

// SetFault adds a fault. Down takes effect at once.
func (m *Manager) SetFault(f Fault) error {
	if f.Down {
		m.goDown()
		return nil
	}
	if f.Count < 0 {
		return fmt.Errorf("managertest: SetFault: negative count %d", f.Count)
	}
	if f.Status != 0 && (f.Status < 100 || f.Status > 599) {
		return fmt.Errorf("managertest: SetFault: status %d is not an HTTP status", f.Status)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.faults = append(m.faults, &f)
	return nil
}

// ClearFaults removes every fault and, after Down, listens again on the same
// port.
func (m *Manager) ClearFaults() error {
	m.mu.Lock()
	m.faults = nil
	m.mu.Unlock()
	return m.goUp()
}

// takeFault returns a copy of the fault for this request, if any, and counts it.
func (m *Manager) takeFault(op, path string) (Fault, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, f := range m.faults {
		if f.Op != "" && f.Op != op {
			continue
		}
		if f.Path != "" && !strings.HasPrefix(path, f.Path) {
			continue
		}
		taken := *f
		if f.Count > 0 {
			f.Count--
			if f.Count == 0 {
				m.faults = append(m.faults[:i:i], m.faults[i+1:]...)
			}
		}
		return taken, true
	}
	return Fault{}, false
}

// serveWithFault answers r under fault f and returns the status sent (0: none).
// record is called before a reset goes out, so that a client that sees the
// reset finds the request already in Requests.
func (m *Manager) serveWithFault(w http.ResponseWriter, r *http.Request, f Fault, handle func(http.ResponseWriter) int, record func(status int)) int {
	if !f.AfterHandling && !f.MalformedJSON {
		if f.Delay > 0 {
			// net/http notices a client that hangs up (and cancels
			// r.Context) only once the request body has been read.
			body, _ := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		if !wait(r, f.Delay) {
			return 0
		}
		if status, done := answerFault(w, f, record); done {
			return status
		}
		return handle(w)
	}

	rec := httptest.NewRecorder()
	handle(rec)
	if f.AfterHandling {
		if !wait(r, f.Delay) {
			return 0
		}
		if status, done := answerFault(w, f, record); done {
			return status
		}
	}
	status, body := rec.Code, rec.Body.Bytes()
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	if f.MalformedJSON {
		if status == http.StatusNoContent || len(body) == 0 {
			status, body = http.StatusOK, []byte(`{"status_requested": `)
		} else {
			body = body[:len(body)/2]
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return status
}

// wait sleeps d unless the client goes away first; it reports whether to answer.
func wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// answerFault writes the fault's own answer, if it has one.
func answerFault(w http.ResponseWriter, f Fault, record func(status int)) (status int, done bool) {
	switch {
	case f.Reset:
		record(0)
		resetConnection(w)
		return 0, true
	case f.Conflict409:
		writeError(w, http.StatusConflict, "task is not assigned to this worker (injected fault)")
		return http.StatusConflict, true
	case f.Status != 0:
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int((f.RetryAfter+time.Second-1)/time.Second)))
		}
		writeError(w, f.Status, fmt.Sprintf("injected fault: %d %s", f.Status, http.StatusText(f.Status)))
		return f.Status, true
	}
	return 0, false
}

// resetConnection closes the client's connection with a TCP reset, so the
// client sees "connection reset by peer" instead of an answer.
func resetConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // makes net/http drop the connection
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}
