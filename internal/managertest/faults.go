package managertest

import (
	"bytes"
	"encoding/json"
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

	// BodyLimit plays a proxy with a request body limit (nginx's
	// client_max_body_size, 1 MiB by default): a request whose body is
	// larger gets nginx's 413 page and is not handled; smaller ones pass.
	// Every matching request counts against Count, passed or not.
	BodyLimit int64
	// Redirect answers with this redirect status (301, 302, 303, 307, 308)
	// without handling the request. Location is RedirectTo followed by the
	// request's path; an empty RedirectTo is the Manager's own URL, so with
	// Count 1 the redirected request lands on the Manager itself.
	Redirect   int
	RedirectTo string
	// RewriteAnswer handles the request, then replaces a 200 answer's body
	// with what it returns (see SetField): a Manager handing out a task the
	// worker must refuse.
	RewriteAnswer func(body []byte) []byte
}

// SetField returns a RewriteAnswer that sets one top-level field of a JSON
// object answer to value (nil: JSON null), e.g. SetField("commands", nil).
func SetField(name string, value any) func([]byte) []byte {
	return SetTaskField("", name, value)
}

// SetTaskField is SetField for the scheduleTask answers that hand out the
// task taskID only; other answers pass unchanged. An empty taskID matches
// every answer.
func SetTaskField(taskID, name string, value any) func([]byte) []byte {
	return func(body []byte) []byte {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(body, &obj); err != nil {
			panic(fmt.Sprintf("managertest: SetField(%q): the answer is not a JSON object: %v", name, err))
		}
		if taskID != "" {
			var id string
			if json.Unmarshal(obj["uuid"], &id) != nil || id != taskID {
				return body
			}
		}
		v, err := json.Marshal(value)
		if err != nil {
			panic(fmt.Sprintf("managertest: SetField(%q): %v", name, err))
		}
		obj[name] = v
		out, err := json.Marshal(obj)
		if err != nil {
			panic(fmt.Sprintf("managertest: SetField(%q): %v", name, err))
		}
		return out
	}
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
	switch f.Redirect {
	case 0, http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
	default:
		return fmt.Errorf("managertest: SetFault: %d is not a redirect status", f.Redirect)
	}
	if f.BodyLimit < 0 {
		return fmt.Errorf("managertest: SetFault: negative body limit %d", f.BodyLimit)
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
	if f.BodyLimit > 0 && !withinLimit(r, f.BodyLimit) {
		writeTooLarge(w)
		return http.StatusRequestEntityTooLarge
	}
	if f.Redirect != 0 {
		base := f.RedirectTo
		if base == "" {
			base = m.URL()
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, maxBodyBytes))
		w.Header().Set("Location", base+r.URL.RequestURI())
		w.WriteHeader(f.Redirect)
		return f.Redirect
	}
	if !f.AfterHandling && !f.MalformedJSON && f.RewriteAnswer == nil {
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
	if f.RewriteAnswer != nil && status == http.StatusOK {
		body = f.RewriteAnswer(body)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
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
	case f.Status == http.StatusUnauthorized:
		// As an authenticating proxy answers: a challenge, not the
		// Manager's 403 for unknown credentials.
		w.Header().Set("WWW-Authenticate", `Basic realm="proxy"`)
		writeError(w, f.Status, "injected fault: 401 Unauthorized")
		return f.Status, true
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

// withinLimit reads r's body when it is at most limit bytes (and puts it back
// for the handler), or reports false. Like nginx it reads and discards the
// rest of a body that is too large before answering, so the client gets the
// 413 instead of a connection closed under its upload.
func withinLimit(r *http.Request, limit int64) bool {
	if r.ContentLength > limit {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, maxBodyBytes))
		return false
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if int64(len(body)) > limit {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, maxBodyBytes))
		return false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return true
}

// nginxTooLarge is nginx's own 413 page: HTML, not the Manager's JSON.
const nginxTooLarge = `<html>
<head><title>413 Request Entity Too Large</title></head>
<body>
<center><h1>413 Request Entity Too Large</h1></center>
<hr><center>nginx</center>
</body>
</html>
`

func writeTooLarge(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html")
	w.Header().Set("Content-Length", strconv.Itoa(len(nginxTooLarge)))
	w.WriteHeader(http.StatusRequestEntityTooLarge)
	_, _ = io.WriteString(w, nginxTooLarge)
}
