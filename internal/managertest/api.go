package managertest

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// maxBodyBytes bounds a request body; far above any sane task update.
const maxBodyBytes = 64 << 20

// reply is a handler's answer, written after the state lock is released.
type reply struct {
	status int
	body   any // JSON-encoded when not nil
}

type errorBody struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// messageBody is the answer of the Manager's request validator (400 for a
// body that breaks the schema) and of its authentication (403): a message
// without a code, unlike errorBody.
type messageBody struct {
	Message string `json:"message"`
}

type stateChangeBody struct {
	StatusRequested string `json:"status_requested"`
}

type registeredWorkerBody struct {
	UUID               string   `json:"uuid"`
	Name               string   `json:"name"`
	Address            string   `json:"address"`
	Status             string   `json:"status"`
	Platform           string   `json:"platform"`
	Software           string   `json:"software"`
	SupportedTaskTypes []string `json:"supported_task_types"`
}

type assignedTaskBody struct {
	UUID           string        `json:"uuid"`
	Job            string        `json:"job"`
	Name           string        `json:"name"`
	Status         string        `json:"status"`
	Priority       int           `json:"priority"`
	JobPriority    int           `json:"job_priority"`
	JobType        string        `json:"job_type"`
	TaskType       string        `json:"task_type"`
	Commands       []commandBody `json:"commands"`
	StepsCompleted int           `json:"steps_completed"`
	StepsTotal     int           `json:"steps_total"`
}

type commandBody struct {
	Name           string         `json:"name"`
	Parameters     map[string]any `json:"parameters"`
	TotalStepCount int            `json:"total_step_count"`
}

type mayKeepRunningBody struct {
	MayKeepRunning        bool   `json:"mayKeepRunning"`
	Reason                string `json:"reason"`
	StatusChangeRequested bool   `json:"statusChangeRequested"`
}

type versionBody struct {
	Version      string `json:"version"`
	ShortVersion string `json:"shortversion"`
	Name         string `json:"name"`
	Git          string `json:"git"`
}

// jsonContentType is the Content-Type of the real Manager's JSON answers.
const jsonContentType = "application/json; charset=UTF-8"

func errReply(status int, format string, args ...any) reply {
	return reply{status: status, body: errorBody{Code: status, Message: fmt.Sprintf(format, args...)}}
}

func writeError(w http.ResponseWriter, status int, message string) {
	writeReply(w, reply{status: status, body: errorBody{Code: status, Message: message}})
}

func writeReply(w http.ResponseWriter, rp reply) {
	if rp.body == nil {
		w.WriteHeader(rp.status)
		return
	}
	data, err := json.Marshal(rp.body)
	if err != nil {
		// Only our own types are encoded, and parameters came from a test:
		// an unencodable one is a test bug worth a loud failure.
		panic(fmt.Sprintf("managertest: encode answer: %v", err))
	}
	w.Header().Set("Content-Type", jsonContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(rp.status)
	_, _ = w.Write(data)
}

// route finds the operation of a request. ok is false for an unknown path;
// a known path with the wrong method returns its op and methodOK false.
func route(method, escapedPath string) (op, taskID string, methodOK, ok bool) {
	const prefix = "/api/v3/"
	if !strings.HasPrefix(escapedPath, prefix) {
		return "", "", false, false
	}
	parts := strings.Split(strings.TrimPrefix(escapedPath, prefix), "/")
	want := ""
	switch {
	case len(parts) == 1 && parts[0] == "version":
		op, want = OpVersion, http.MethodGet
	case isSharedStoragePath(parts):
		op, want = OpSharedStorage, http.MethodGet
	case len(parts) == 2 && parts[0] == "worker":
		switch parts[1] {
		case "register-worker":
			op, want = OpRegister, http.MethodPost
		case "sign-on":
			op, want = OpSignOn, http.MethodPost
		case "sign-off":
			op, want = OpSignOff, http.MethodPost
		case "state":
			op, want = OpState, http.MethodGet
		case "state-changed":
			op, want = OpStateChanged, http.MethodPost
		case "task":
			op, want = OpScheduleTask, http.MethodPost
		}
	case len(parts) >= 3 && parts[0] == "worker" && parts[1] == "task" && parts[2] != "":
		id, err := url.PathUnescape(parts[2])
		if err != nil {
			return "", "", false, false
		}
		taskID = id
		switch {
		case len(parts) == 3:
			op, want = OpTaskUpdate, http.MethodPost
		case len(parts) == 4 && parts[3] == "may-i-run":
			op, want = OpMayIRun, http.MethodGet
		case len(parts) == 4 && parts[3] == "output-produced":
			op, want = OpOutputProduced, http.MethodPost
		}
	}
	if op == "" {
		return "", "", false, false
	}
	return op, taskID, method == want, true
}

func (m *Manager) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == socketIOPath {
		// The event stream has faults of its own (SetStreamFault); Down
		// closes it like every connection.
		m.serveSocketIO(w, r)
		return
	}
	op, taskID, methodOK, known := route(r.Method, r.URL.EscapedPath())
	user, _, _ := r.BasicAuth()
	handle := func(w http.ResponseWriter) int {
		rp := m.handle(r, op, taskID, methodOK, known)
		writeReply(w, rp)
		return rp.status
	}
	f, faulted := m.takeFault(op, r.URL.Path)
	// The request is recorded before its answer (or reset) goes out, so a
	// client that has its answer finds the request in Requests.
	var recorded sync.Once
	record := func(status int) {
		recorded.Do(func() {
			m.mu.Lock()
			m.requests = append(m.requests, Request{
				Op: op, Method: r.Method, Path: r.URL.Path, TaskID: taskID, Worker: user,
				UserAgent: r.UserAgent(), Status: status, Fault: faulted,
			})
			m.notify()
			m.mu.Unlock()
			if m.cfg.Logf != nil {
				m.cfg.Logf("managertest: %s %s (worker %q) -> %d fault=%v", r.Method, r.URL.Path, user, status, faulted)
			}
		})
	}
	w = recordOnWrite{ResponseWriter: w, record: record}
	if faulted {
		record(m.serveWithFault(w, r, f, handle, record))
	} else {
		record(handle(w))
	}
}

// recordOnWrite calls record with the status as the answer starts to go out.
type recordOnWrite struct {
	http.ResponseWriter
	record func(status int)
}

func (w recordOnWrite) WriteHeader(status int) {
	w.record(status)
	w.ResponseWriter.WriteHeader(status)
}

func (w recordOnWrite) Write(b []byte) (int, error) {
	w.record(http.StatusOK) // no-op after WriteHeader
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (resets).
func (w recordOnWrite) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// handle answers one request from the Manager's state.
func (m *Manager) handle(r *http.Request, op, taskID string, methodOK, known bool) reply {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return errReply(http.StatusBadRequest, "cannot read the request body: %v", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !known {
		m.protocolError("%s %s: no such endpoint", r.Method, r.URL.Path)
		return errReply(http.StatusNotFound, "no such endpoint: %s", r.URL.Path)
	}
	if !methodOK {
		m.protocolError("%s %s: method not allowed", r.Method, r.URL.Path)
		return errReply(http.StatusMethodNotAllowed, "method %s not allowed on %s", r.Method, r.URL.Path)
	}
	if len(body) > maxBodyBytes {
		m.protocolError("%s: body larger than %d bytes", op, maxBodyBytes)
		return errReply(http.StatusRequestEntityTooLarge, "request body too large")
	}
	switch op {
	case OpVersion:
		return reply{status: http.StatusOK, body: versionBody{Version: "3.6-managertest", ShortVersion: "3.6", Name: "managertest", Git: "managertest"}}
	case OpRegister:
		return m.register(r, body)
	case OpSharedStorage:
		return m.sharedStorage(r)
	}

	wk, rp := m.authenticate(r)
	if wk == nil {
		return rp
	}
	switch op {
	case OpSignOn:
		return m.signOn(wk, r, body)
	case OpSignOff:
		return m.signOff(wk)
	case OpState:
		if wk.requested == "" {
			return reply{status: http.StatusNoContent}
		}
		return reply{status: http.StatusOK, body: stateChangeBody{StatusRequested: wk.requested}}
	case OpStateChanged:
		return m.stateChanged(wk, r, body)
	case OpScheduleTask:
		return m.scheduleTask(wk)
	case OpTaskUpdate:
		return m.taskUpdate(wk, r, taskID, body)
	case OpMayIRun:
		return m.mayIRun(wk, taskID)
	case OpOutputProduced:
		return m.outputProduced(wk, r, taskID, body)
	}
	panic("managertest: unrouted op " + op)
}

// protocolError records a malformed request; call with mu held.
func (m *Manager) protocolError(format string, args ...any) {
	m.protocolErrors = append(m.protocolErrors, fmt.Sprintf(format, args...))
}

// badRequest records and answers a request that breaks the schema, as the
// real Manager's request validator does: 400 with a message and no code.
func (m *Manager) badRequest(op, format string, args ...any) reply {
	msg := fmt.Sprintf(format, args...)
	m.protocolError("%s: %s", op, msg)
	return reply{status: http.StatusBadRequest, body: messageBody{Message: "request body has an error: " + msg}}
}

// authenticate checks HTTP Basic credentials; call with mu held.
func (m *Manager) authenticate(r *http.Request) (*worker, reply) {
	id, secret, ok := r.BasicAuth()
	if !ok {
		return nil, reply{status: http.StatusForbidden, body: messageBody{Message: "no credentials: HTTP Basic auth with the worker id and secret is required"}}
	}
	wk, known := m.workers[id]
	if !known || subtle.ConstantTimeCompare([]byte(wk.secret), []byte(secret)) != 1 {
		return nil, reply{status: http.StatusForbidden, body: messageBody{Message: "unknown worker or wrong secret"}}
	}
	return wk, reply{}
}

func (m *Manager) register(r *http.Request, body []byte) reply {
	v, problem := checkBody(r, body, requestFields(OpRegister))
	if problem != "" {
		return m.badRequest(OpRegister, "%s", problem)
	}
	id := m.addWorker(v.str("name"), v.str("secret"), v.str("platform"), v.strs("supported_task_types"))
	wk := m.workers[id]
	return reply{status: http.StatusOK, body: registeredWorkerBody{
		UUID: wk.id, Name: wk.name, Address: "127.0.0.1", Status: wk.status,
		Platform: wk.platform, Software: wk.software, SupportedTaskTypes: wk.taskTypes,
	}}
}

func (m *Manager) signOn(wk *worker, r *http.Request, body []byte) reply {
	v, problem := checkBody(r, body, requestFields(OpSignOn))
	if problem != "" {
		return m.badRequest(OpSignOn, "%s", problem)
	}
	wk.name = v.str("name")
	wk.taskTypes = v.strs("supported_task_types")
	wk.software = v.str("software_version")
	wk.canRestart = v.bool("can_restart")
	wk.status = WorkerStarting
	wk.signOns++
	requested := wk.requested
	if requested == "" {
		requested = WorkerAwake // no sleep schedule in the fake
	}
	return reply{status: http.StatusOK, body: stateChangeBody{StatusRequested: requested}}
}

func (m *Manager) signOff(wk *worker) reply {
	wk.status = WorkerOffline
	if wk.requested == WorkerOffline {
		wk.requested, wk.lazy = "", false
	}
	m.requeueTasksOf(wk.id)
	return reply{status: http.StatusNoContent}
}

func (m *Manager) stateChanged(wk *worker, r *http.Request, body []byte) reply {
	v, problem := checkBody(r, body, requestFields(OpStateChanged))
	if problem != "" {
		return m.badRequest(OpStateChanged, "%s", problem)
	}
	prev, status := wk.status, v.str("status")
	wk.status = status
	wk.stateChanges = append(wk.stateChanges, status)
	// Like the real Manager, a change to another status than the requested
	// one leaves the request pending.
	if wk.requested == status {
		wk.requested, wk.lazy = "", false
	}
	if prev == WorkerAwake && status != WorkerAwake {
		m.requeueTasksOf(wk.id)
	}
	return reply{status: http.StatusNoContent}
}

func (m *Manager) scheduleTask(wk *worker) reply {
	// Like the real Manager: a pending status change first, then the
	// worker's own status.
	if wk.requested != "" {
		return reply{status: http.StatusLocked, body: stateChangeBody{StatusRequested: wk.requested}}
	}
	if wk.status != WorkerAwake {
		return errReply(http.StatusConflict, "worker %s is in status %q; it must be %q to get a task", wk.name, wk.status, WorkerAwake)
	}
	var t *task
	for _, c := range m.tasks {
		if c.worker == wk.id && c.status == StatusActive {
			t = c // the worker lost track of it: hand out the same task again
			break
		}
	}
	if t == nil {
		t = m.nextTask(wk)
	}
	if t == nil {
		return reply{status: http.StatusNoContent}
	}
	t.status, t.worker = StatusActive, wk.id
	t.assignments++
	a := assignedTaskBody{
		UUID: t.id, Job: t.job.id, Name: t.name, Status: t.status,
		Priority: t.priority, JobPriority: t.job.priority, JobType: t.job.typ, TaskType: t.typ,
		Commands: make([]commandBody, 0, len(t.commands)), StepsCompleted: t.steps, StepsTotal: t.total,
	}
	for _, c := range t.commands {
		a.Commands = append(a.Commands, commandBody{Name: c.Name, Parameters: c.Parameters, TotalStepCount: c.TotalStepCount})
	}
	return reply{status: http.StatusOK, body: a}
}

func (m *Manager) taskUpdate(wk *worker, r *http.Request, taskID string, body []byte) reply {
	t := m.tasks[taskID]
	if t != nil {
		t.updatesReceived++
	}
	v, problem := checkBody(r, body, requestFields(OpTaskUpdate))
	if problem == "" && v.has("steps_completed") && v.int("steps_completed") < 0 {
		problem = fmt.Sprintf("steps_completed %d is negative", v.int("steps_completed"))
	}
	if problem != "" {
		return m.badRequest(OpTaskUpdate, "task %s: %s", taskID, problem)
	}
	if t == nil {
		return errReply(http.StatusNotFound, "no task %s", taskID)
	}
	if t.worker != wk.id {
		return errReply(http.StatusConflict, "task %s is not assigned to worker %s", taskID, wk.name)
	}
	// The real Manager checks this in its handler, after the task: a 400
	// with a code, unlike the validator's.
	if v.has("taskStatus") && v.str("taskStatus") == StatusSoftFailed {
		m.protocolError("%s: task %s: taskStatus soft-failed", OpTaskUpdate, taskID)
		return errReply(http.StatusBadRequest, `task status %s not allowed to be sent by Worker: "soft-failed" is decided by the Manager; a worker sends "failed"`, StatusSoftFailed)
	}

	u := TaskUpdate{Worker: wk.id}
	if v.has("activity") {
		s := v.str("activity")
		u.Activity = &s
		t.activity = s
	}
	if v.has("log") {
		s := v.str("log")
		u.Log = &s
		t.log.WriteString(s)
		if s != "" && !strings.HasSuffix(s, "\n") {
			t.log.WriteByte('\n')
		}
	}
	if v.has("steps_completed") {
		n := v.int("steps_completed")
		u.StepsCompleted = &n
		t.steps = min(n, t.total)
	}
	if v.has("taskStatus") {
		s := v.str("taskStatus")
		u.TaskStatus = &s
		// A task canceled (or failed) on the Manager keeps that status
		// whatever its worker reports afterwards.
		if t.status == StatusActive {
			if s == StatusFailed {
				m.fail(t, wk.id)
			} else {
				t.status = s
			}
		}
	}
	t.updates = append(t.updates, u)
	return reply{status: http.StatusNoContent}
}

func (m *Manager) mayIRun(wk *worker, taskID string) reply {
	t := m.tasks[taskID]
	if t == nil {
		// The real Manager answers an unknown task with a plain no.
		return reply{status: http.StatusOK, body: mayKeepRunningBody{Reason: "Task not found"}}
	}
	answer := mayKeepRunningBody{MayKeepRunning: true}
	switch { // in the real Manager's order
	case wk.requested != "" && !wk.lazy:
		answer = mayKeepRunningBody{Reason: "worker status change requested", StatusChangeRequested: true}
	case t.worker != wk.id:
		answer = mayKeepRunningBody{Reason: "task not assigned to this worker"}
	case t.status != StatusActive:
		answer = mayKeepRunningBody{Reason: fmt.Sprintf("task is in non-runnable status %q", t.status)}
	}
	return reply{status: http.StatusOK, body: answer}
}

func (m *Manager) outputProduced(wk *worker, r *http.Request, taskID string, body []byte) reply {
	// In the real Manager's order: size, task, type.
	if r.ContentLength <= 0 {
		return errReply(http.StatusLengthRequired, "Content-Length is required")
	}
	if r.ContentLength > MaxOutputBytes {
		return errReply(http.StatusRequestEntityTooLarge, "image of %d bytes is larger than %d", r.ContentLength, MaxOutputBytes)
	}
	t := m.tasks[taskID]
	if t == nil {
		// Not an Error object: the real Manager answers a JSON string here.
		return reply{status: http.StatusNotFound, body: "Task does not exist"}
	}
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mediaType != "image/jpeg" && mediaType != "image/png" {
		return errReply(http.StatusUnsupportedMediaType, "content type %q: want image/jpeg or image/png", r.Header.Get("Content-Type"))
	}
	if len(body) == 0 {
		return m.badRequest(OpOutputProduced, "task %s: empty image", taskID)
	}
	if m.holdOutputs {
		if m.outputQueue >= m.cfg.OutputQueueSize {
			return errReply(http.StatusTooManyRequests, "the thumbnail queue is full (%d images); slow down", m.outputQueue)
		}
		m.outputQueue++
	}
	m.outputs = append(m.outputs, Output{TaskID: t.id, Worker: wk.id, ContentType: mediaType, Data: body})
	return reply{status: http.StatusAccepted}
}
