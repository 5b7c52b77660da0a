package managertest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/internal/managertest"
)

// These tests speak raw HTTP to the fake, independent of host/flamenco, so a
// wrong field name cannot hide on both sides at once.

type creds struct{ id, secret string }

type wire struct {
	t    *testing.T
	m    *managertest.Manager
	http *http.Client
}

func newWire(t *testing.T, cfg managertest.Config) *wire {
	t.Helper()
	m := managertest.New(t, cfg)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &wire{t: t, m: m, http: &http.Client{Transport: tr, Timeout: 20 * time.Second}}
}

// call sends one request and returns the status and body. A non-empty body
// is sent as JSON.
func (w *wire) call(method, path string, c *creds, body string) (int, string) {
	w.t.Helper()
	status, answer, err := w.try(method, path, c, "application/json", body)
	if err != nil {
		w.t.Fatalf("%s %s: %v", method, path, err)
	}
	return status, answer
}

func (w *wire) try(method, path string, c *creds, contentType, body string) (int, string, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, w.m.URL()+path, rd)
	if err != nil {
		return 0, "", err
	}
	if body != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c != nil {
		req.SetBasicAuth(c.id, c.secret)
	}
	resp, err := w.http.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data), err
}

// awakeWorker registers a worker that supports misc and blender, signs it on
// and makes it awake.
func (w *wire) awakeWorker(name string) *creds {
	w.t.Helper()
	c := &creds{secret: "s3cret-" + name}
	status, body := w.call("POST", "/api/v3/worker/register-worker", nil,
		`{"name":"`+name+`","secret":"`+c.secret+`","platform":"linux","supported_task_types":["misc","blender"]}`)
	if status != 200 {
		w.t.Fatalf("register: %d %s", status, body)
	}
	var reg struct{ UUID string }
	if err := json.Unmarshal([]byte(body), &reg); err != nil || reg.UUID == "" {
		w.t.Fatalf("register answer %s: %v", body, err)
	}
	c.id = reg.UUID
	w.expect("POST", "/api/v3/worker/sign-on", c, `{"name":"`+name+`","supported_task_types":["misc","blender"],"software_version":"test","can_restart":true}`, 200)
	w.expect("POST", "/api/v3/worker/state-changed", c, `{"status":"awake"}`, 204)
	return c
}

func (w *wire) expect(method, path string, c *creds, body string, want int) string {
	w.t.Helper()
	status, answer := w.call(method, path, c, body)
	if status != want {
		w.t.Fatalf("%s %s %s: status %d, want %d; answer %s", method, path, body, status, want, answer)
	}
	return answer
}

func (w *wire) schedule(c *creds) (int, map[string]any) {
	w.t.Helper()
	status, body := w.call("POST", "/api/v3/worker/task", c, "")
	var task map[string]any
	if status == 200 {
		if err := json.Unmarshal([]byte(body), &task); err != nil {
			w.t.Fatalf("scheduleTask answer %q: %v", body, err)
		}
	}
	return status, task
}

func oneTaskJob(types ...string) managertest.Job {
	j := managertest.Job{Name: "job"}
	for i, typ := range types {
		j.Tasks = append(j.Tasks, managertest.Task{
			Name: "t" + string(rune('A'+i)), Type: typ,
			Commands: []managertest.Command{
				{Name: "echo", Parameters: map[string]any{"message": "hi"}},
				{Name: "sleep", Parameters: map[string]any{"duration_in_seconds": 2}, TotalStepCount: 3},
			},
		})
	}
	return j
}

func TestAuthentication(t *testing.T) {
	w := newWire(t, managertest.Config{})
	good := w.awakeWorker("w1")
	bad := &creds{id: good.id, secret: "wrong"}
	unknown := &creds{id: "00000000-0000-4000-8000-000000000000", secret: good.secret}
	endpoints := []struct{ method, path, body string }{
		{"POST", "/api/v3/worker/sign-on", `{"name":"w1","supported_task_types":["misc"],"software_version":"x"}`},
		{"POST", "/api/v3/worker/sign-off", ""},
		{"GET", "/api/v3/worker/state", ""},
		{"POST", "/api/v3/worker/state-changed", `{"status":"awake"}`},
		{"POST", "/api/v3/worker/task", ""},
		{"POST", "/api/v3/worker/task/x", `{"activity":"a"}`},
		{"GET", "/api/v3/worker/task/x/may-i-run", ""},
	}
	for _, e := range endpoints {
		for name, c := range map[string]*creds{"none": nil, "wrong secret": bad, "unknown id": unknown} {
			t.Run(e.path+"/"+name, func(t *testing.T) {
				status, body := w.call(e.method, e.path, c, e.body)
				if status != 403 || !strings.Contains(body, `"message"`) {
					t.Fatalf("status %d body %s, want 403 with a message", status, body)
				}
			})
		}
	}
	if status, body := w.call("GET", "/api/v3/version", nil, ""); status != 200 || !strings.Contains(body, `"shortversion"`) {
		t.Fatalf("version without credentials: %d %s", status, body)
	}
}

func TestRequestSchema(t *testing.T) {
	w := newWire(t, managertest.Config{})
	c := w.awakeWorker("w1")
	job := w.m.AddJob(oneTaskJob("misc"))
	taskID := job.Tasks[0].ID
	if status, _ := w.schedule(c); status != 200 {
		t.Fatalf("schedule: %d", status)
	}
	update := "/api/v3/worker/task/" + taskID
	cases := []struct {
		name, method, path, contentType, body, wantInMessage string
	}{
		{"register missing secret", "POST", "/api/v3/worker/register-worker", "application/json", `{"name":"a","platform":"linux","supported_task_types":[]}`, `"secret"`},
		{"register task types not an array", "POST", "/api/v3/worker/register-worker", "application/json", `{"name":"a","secret":"s","platform":"linux","supported_task_types":"misc"}`, "array"},
		{"register unknown field", "POST", "/api/v3/worker/register-worker", "application/json", `{"name":"a","secret":"s","platform":"linux","supported_task_types":[],"software":"3"}`, `"software"`},
		{"register not JSON", "POST", "/api/v3/worker/register-worker", "application/json", `{"name":`, "malformed"},
		{"register form content type", "POST", "/api/v3/worker/register-worker", "application/x-www-form-urlencoded", `{"name":"a","secret":"s","platform":"linux","supported_task_types":[]}`, "Content-Type"},
		{"sign-on missing software_version", "POST", "/api/v3/worker/sign-on", "application/json", `{"name":"a","supported_task_types":["misc"]}`, "software_version"},
		{"sign-on can_restart as string", "POST", "/api/v3/worker/sign-on", "application/json", `{"name":"a","supported_task_types":["misc"],"software_version":"1","can_restart":"yes"}`, "can_restart"},
		{"sign-on null task types", "POST", "/api/v3/worker/sign-on", "application/json", `{"name":"a","supported_task_types":null,"software_version":"1"}`, "null"},
		{"state-changed unknown status", "POST", "/api/v3/worker/state-changed", "application/json", `{"status":"dozing"}`, "dozing"},
		{"update snake_case status", "POST", update, "application/json", `{"task_status":"completed"}`, `the field is "taskStatus"`},
		{"update soft-failed", "POST", update, "application/json", `{"taskStatus":"soft-failed"}`, "soft-failed"},
		{"update unknown status", "POST", update, "application/json", `{"taskStatus":"done"}`, "done"},
		{"update steps as float", "POST", update, "application/json", `{"steps_completed":1.5}`, "integer"},
		{"update negative steps", "POST", update, "application/json", `{"steps_completed":-1}`, "negative"},
		{"update log as number", "POST", update, "application/json", `{"log":12}`, "string"},
		{"update body is an array", "POST", update, "application/json", `[]`, "malformed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(w.m.ProtocolErrors())
			status, body, err := w.try(tc.method, tc.path, c, tc.contentType, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			// The real Manager's validator answers {message}; its handler's
			// own 400s (soft-failed) are {code, message}.
			var e struct {
				Code    int
				Message string
			}
			if err := json.Unmarshal([]byte(body), &e); err != nil || (e.Code != 0 && e.Code != 400) || e.Message == "" {
				t.Fatalf("error body %s is not {message} or {code: 400, message}", body)
			}
			if status != 400 || !strings.Contains(e.Message, tc.wantInMessage) {
				t.Fatalf("status %d message %q; want 400 mentioning %s", status, e.Message, tc.wantInMessage)
			}
			if got := len(w.m.ProtocolErrors()); got != before+1 {
				t.Fatalf("ProtocolErrors grew from %d to %d, want one more", before, got)
			}
		})
	}
	if s := w.m.MustTask(w.t, taskID); len(s.Updates) != 0 || s.Status != managertest.StatusActive {
		t.Fatalf("rejected updates changed the task: %+v", s)
	}
	if got := w.m.MustTask(w.t, taskID).UpdatesReceived; got != 7 {
		t.Fatalf("UpdatesReceived = %d, want 7 (rejected ones count)", got)
	}
	if status, _ := w.call("GET", "/api/v3/worker/no-such-thing", c, ""); status != 404 {
		t.Fatalf("unknown endpoint: %d, want 404", status)
	}
	if status, _ := w.call("GET", "/api/v3/worker/task", c, ""); status != 405 {
		t.Fatalf("GET on scheduleTask: %d, want 405", status)
	}
}

func TestLifecycleAndScheduling(t *testing.T) {
	w := newWire(t, managertest.Config{})
	status, body := w.call("POST", "/api/v3/worker/register-worker", nil,
		`{"name":"w1","secret":"pw","platform":"linux","supported_task_types":["misc"]}`)
	if status != 200 {
		t.Fatalf("register: %d %s", status, body)
	}
	var reg map[string]any
	if err := json.Unmarshal([]byte(body), &reg); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"uuid", "name", "address", "status", "platform", "software", "supported_task_types"} {
		if _, ok := reg[f]; !ok {
			t.Errorf("register answer lacks %q: %s", f, body)
		}
	}
	c := &creds{id: reg["uuid"].(string), secret: "pw"}

	answer := w.expect("POST", "/api/v3/worker/sign-on", c, `{"name":"w1","supported_task_types":["misc"],"software_version":"1.0"}`, 200)
	if answer != `{"status_requested":"awake"}` {
		t.Fatalf("sign-on answer %s", answer)
	}
	if ws, _ := w.m.Worker(c.id); ws.Status != "starting" || ws.SoftwareVersion != "1.0" || ws.SignOns != 1 {
		t.Fatalf("after sign-on: %+v", ws)
	}
	if status, _ := w.schedule(c); status != 409 {
		t.Fatalf("schedule while starting: %d, want 409", status)
	}
	w.expect("POST", "/api/v3/worker/state-changed", c, `{"status":"awake"}`, 204)
	if status, _ := w.schedule(c); status != 204 {
		t.Fatalf("schedule with an empty queue: %d, want 204", status)
	}

	job := w.m.AddJob(managertest.Job{
		Name: "render", Type: "simple-blender-render", Priority: 70,
		Tasks: []managertest.Task{
			{Name: "echo", Commands: []managertest.Command{{Name: "echo", Parameters: map[string]any{"message": "hello"}}, {Name: "sleep", TotalStepCount: 4}}},
			{Name: "blender", Type: "blender", Commands: []managertest.Command{{Name: "blender-render"}}},
		},
	})
	status, got := w.schedule(c)
	if status != 200 {
		t.Fatalf("schedule: %d", status)
	}
	want := map[string]any{
		"uuid": job.Tasks[0].ID, "job": job.ID, "name": "echo", "status": "active",
		"priority": 50.0, "job_priority": 70.0, "job_type": "simple-blender-render", "task_type": "misc",
		"steps_completed": 0.0, "steps_total": 5.0,
		"commands": []any{
			map[string]any{"name": "echo", "parameters": map[string]any{"message": "hello"}, "total_step_count": 0.0},
			map[string]any{"name": "sleep", "parameters": map[string]any{}, "total_step_count": 4.0},
		},
	}
	if g, _ := json.Marshal(got); string(g) != mustJSON(t, want) {
		t.Fatalf("assigned task\n got %s\nwant %s", g, mustJSON(t, want))
	}
	// The same task again while it is active for this worker.
	if status, again := w.schedule(c); status != 200 || again["uuid"] != job.Tasks[0].ID {
		t.Fatalf("second schedule: %d %v", status, again["uuid"])
	}
	if s := w.m.MustTask(w.t, job.Tasks[0].ID); s.Assignments != 2 || s.Worker != c.id {
		t.Fatalf("task state: %+v", s)
	}

	path := "/api/v3/worker/task/" + job.Tasks[0].ID
	w.expect("POST", path, c, `{"activity":"echoing","log":"line 1","steps_completed":2}`, 204)
	w.expect("POST", path, c, `{"activity":"sleeping","log":"line 2\n","steps_completed":99}`, 204)
	w.expect("POST", path, c, `{"taskStatus":"completed","steps_completed":0}`, 204)
	s := w.m.MustTask(w.t, job.Tasks[0].ID)
	if s.Status != "completed" || s.Activity != "sleeping" || s.Log != "line 1\nline 2\n" || s.StepsCompleted != 0 {
		t.Fatalf("after updates: %+v", s)
	}
	if len(s.Updates) != 3 || *s.Updates[1].StepsCompleted != 99 || s.Updates[2].Activity != nil || *s.Updates[2].TaskStatus != "completed" {
		t.Fatalf("update history: %+v", s.Updates)
	}
	// The blender task needs a worker with that type.
	if status, _ := w.schedule(c); status != 204 {
		t.Fatalf("schedule without a fitting task: %d, want 204", status)
	}
	if js, _ := w.m.Job(job.ID); js.Status != "active" {
		t.Fatalf("job status %q, want active", js.Status)
	}
}

func TestStepsClampedToTotal(t *testing.T) {
	w := newWire(t, managertest.Config{})
	c := w.awakeWorker("w1")
	job := w.m.AddJob(oneTaskJob("misc"))
	w.schedule(c)
	w.expect("POST", "/api/v3/worker/task/"+job.Tasks[0].ID, c, `{"steps_completed":99}`, 204)
	if s := w.m.MustTask(w.t, job.Tasks[0].ID); s.StepsCompleted != s.StepsTotal || s.StepsTotal != 4 {
		t.Fatalf("steps %d/%d, want 4/4", s.StepsCompleted, s.StepsTotal)
	}
}

func TestTaskUpdateOwnership(t *testing.T) {
	w := newWire(t, managertest.Config{})
	a, b := w.awakeWorker("a"), w.awakeWorker("b")
	job := w.m.AddJob(oneTaskJob("misc"))
	if status, _ := w.schedule(a); status != 200 {
		t.Fatal("no task for a")
	}
	cases := []struct {
		name string
		c    *creds
		id   string
		want int
	}{
		{"assigned worker", a, job.Tasks[0].ID, 204},
		{"other worker", b, job.Tasks[0].ID, 409},
		{"unknown task", a, "no-such-task", 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w.expect("POST", "/api/v3/worker/task/"+tc.id, tc.c, `{"log":"x"}`, tc.want)
			// may-i-run answers 200 in every case, also for an unknown task.
			answer := w.expect("GET", "/api/v3/worker/task/"+tc.id+"/may-i-run", tc.c, "", 200)
			if tc.want != 204 && !strings.Contains(answer, `"mayKeepRunning":false`) {
				t.Errorf("may-i-run answered %s, want a no", answer)
			}
		})
	}
}

func TestFailureHandling(t *testing.T) {
	t.Run("soft-fail then fail", func(t *testing.T) {
		w := newWire(t, managertest.Config{FailAfter: 3, BlocklistThreshold: 10})
		c := w.awakeWorker("w1")
		job := w.m.AddJob(managertest.Job{Tasks: []managertest.Task{{Name: "a"}, {Name: "b"}}})
		id := job.Tasks[0].ID
		for i, want := range []string{"soft-failed", "soft-failed", "failed"} {
			if status, task := w.schedule(c); status != 200 || task["uuid"] != id {
				t.Fatalf("round %d: schedule %d %v", i, status, task["uuid"])
			}
			w.expect("POST", "/api/v3/worker/task/"+id, c, `{"taskStatus":"failed","log":"boom"}`, 204)
			if s := w.m.MustTask(w.t, id); s.Status != want || s.Failures != i+1 || s.Worker != "" {
				t.Fatalf("after failure %d: status %q failures %d worker %q; want %q", i+1, s.Status, s.Failures, s.Worker, want)
			}
		}
		if js, _ := w.m.Job(job.ID); js.Status != "failed" {
			t.Fatalf("job %q, want failed", js.Status)
		}
		if s := w.m.MustTask(w.t, job.Tasks[1].ID); s.Status != "canceled" {
			t.Fatalf("other task of the failed job: %q, want canceled", s.Status)
		}
		// A soft-failed task is no longer the worker's.
		w.expect("POST", "/api/v3/worker/task/"+id, c, `{"log":"late"}`, 409)
	})
	t.Run("blocklist", func(t *testing.T) {
		w := newWire(t, managertest.Config{FailAfter: 10, BlocklistThreshold: 2})
		c, other := w.awakeWorker("w1"), w.awakeWorker("w2")
		job := w.m.AddJob(managertest.Job{Tasks: []managertest.Task{{Name: "a"}}})
		for range 2 {
			w.schedule(c)
			w.expect("POST", "/api/v3/worker/task/"+job.Tasks[0].ID, c, `{"taskStatus":"failed"}`, 204)
		}
		if status, _ := w.schedule(c); status != 204 {
			t.Fatalf("blocklisted worker got %d, want 204", status)
		}
		if status, _ := w.schedule(other); status != 200 {
			t.Fatalf("other worker got %d, want 200", status)
		}
		if js, _ := w.m.Job(job.ID); len(js.Blocklist) != 1 || js.Blocklist[0] != c.id {
			t.Fatalf("blocklist %v", js.Blocklist)
		}
	})
}

func TestMayIRun(t *testing.T) {
	type answer struct {
		MayKeepRunning        bool   `json:"mayKeepRunning"`
		Reason                string `json:"reason"`
		StatusChangeRequested bool   `json:"statusChangeRequested"`
	}
	cases := []struct {
		name   string
		before func(m *managertest.Manager, workerID, taskID string)
		want   answer
	}{
		{"active task", nil, answer{MayKeepRunning: true}},
		{"canceled task", func(m *managertest.Manager, _, id string) { _ = m.CancelTask(id) }, answer{Reason: `task is in non-runnable status "canceled"`}},
		{"canceled job", func(m *managertest.Manager, _, id string) {
			ts, _ := m.Task(id)
			_ = m.CancelJob(ts.JobID)
		}, answer{Reason: `task is in non-runnable status "canceled"`}},
		{"immediate status change", func(m *managertest.Manager, wid, _ string) { _ = m.RequestStatus(wid, "asleep", false) }, answer{Reason: "worker status change requested", StatusChangeRequested: true}},
		{"lazy status change", func(m *managertest.Manager, wid, _ string) { _ = m.RequestStatus(wid, "asleep", true) }, answer{MayKeepRunning: true}},
		{"requeued after timeout", func(m *managertest.Manager, wid, _ string) { _ = m.TimeOutWorker(wid) }, answer{Reason: "task not assigned to this worker"}},
		// The real Manager looks at a pending status change first.
		{"status change beats a lost task", func(m *managertest.Manager, wid, _ string) {
			_ = m.TimeOutWorker(wid)
			_ = m.RequestStatus(wid, "offline", false)
		}, answer{Reason: "worker status change requested", StatusChangeRequested: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWire(t, managertest.Config{})
			c := w.awakeWorker("w1")
			job := w.m.AddJob(oneTaskJob("misc"))
			w.schedule(c)
			if tc.before != nil {
				tc.before(w.m, c.id, job.Tasks[0].ID)
			}
			body := w.expect("GET", "/api/v3/worker/task/"+job.Tasks[0].ID+"/may-i-run", c, "", 200)
			var got answer
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestStatusRequests(t *testing.T) {
	w := newWire(t, managertest.Config{})
	c := w.awakeWorker("w1")
	w.expect("GET", "/api/v3/worker/state", c, "", 204)

	if err := w.m.RequestStatus(c.id, "asleep", true); err != nil {
		t.Fatal(err)
	}
	if status, body := w.call("POST", "/api/v3/worker/task", c, ""); status != 423 || body != `{"status_requested":"asleep"}` {
		t.Fatalf("schedule with a pending change: %d %s", status, body)
	}
	if body := w.expect("GET", "/api/v3/worker/state", c, "", 200); body != `{"status_requested":"asleep"}` {
		t.Fatalf("state: %s", body)
	}
	// A sign-on in between hands out the pending status.
	if body := w.expect("POST", "/api/v3/worker/sign-on", c, `{"name":"w1","supported_task_types":["misc"],"software_version":"1"}`, 200); body != `{"status_requested":"asleep"}` {
		t.Fatalf("sign-on: %s", body)
	}
	w.expect("POST", "/api/v3/worker/state-changed", c, `{"status":"asleep"}`, 204)
	w.expect("GET", "/api/v3/worker/state", c, "", 204)
	if ws, _ := w.m.Worker(c.id); ws.Status != "asleep" || ws.StatusRequested != "" || strings.Join(ws.StateChanges, ",") != "awake,asleep" {
		t.Fatalf("worker after ack: %+v", ws)
	}
	if status, _ := w.schedule(c); status != 409 {
		t.Fatalf("schedule while asleep: %d, want 409", status)
	}

	// Restart needs can_restart at sign-on.
	if err := w.m.RequestStatus(c.id, "restart", false); err == nil {
		t.Fatal("restart accepted for a worker that signed on without can_restart")
	}
	w.expect("POST", "/api/v3/worker/sign-on", c, `{"name":"w1","supported_task_types":["misc"],"software_version":"1","can_restart":true}`, 200)
	if err := w.m.RequestStatus(c.id, "restart", false); err != nil {
		t.Fatal(err)
	}
	if err := w.m.RequestStatus("nobody", "asleep", false); err == nil {
		t.Fatal("RequestStatus accepted an unknown worker")
	}
}

func TestRequeue(t *testing.T) {
	cases := []struct {
		name       string
		leave      func(w *wire, c *creds)
		wantWorker string
	}{
		{"sign-off", func(w *wire, c *creds) { w.expect("POST", "/api/v3/worker/sign-off", c, "", 204) }, "offline"},
		{"state-changed asleep", func(w *wire, c *creds) {
			w.expect("POST", "/api/v3/worker/state-changed", c, `{"status":"asleep"}`, 204)
		}, "asleep"},
		{"timeout", func(w *wire, c *creds) { _ = w.m.TimeOutWorker(c.id) }, "error"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWire(t, managertest.Config{})
			c := w.awakeWorker("w1")
			job := w.m.AddJob(oneTaskJob("misc"))
			w.schedule(c)
			tc.leave(w, c)
			if s := w.m.MustTask(w.t, job.Tasks[0].ID); s.Status != "queued" || s.Worker != "" {
				t.Fatalf("task after %s: %q on %q, want queued on nobody", tc.name, s.Status, s.Worker)
			}
			if ws, _ := w.m.Worker(c.id); ws.Status != tc.wantWorker {
				t.Fatalf("worker status %q, want %q", ws.Status, tc.wantWorker)
			}
			w.expect("POST", "/api/v3/worker/task/"+job.Tasks[0].ID, c, `{"log":"late"}`, 409)
			if status, _ := w.schedule(c); status != 409 {
				t.Fatalf("schedule: %d, want 409 until sign-on", status)
			}
			w.expect("POST", "/api/v3/worker/sign-on", c, `{"name":"w1","supported_task_types":["misc"],"software_version":"1"}`, 200)
			w.expect("POST", "/api/v3/worker/state-changed", c, `{"status":"awake"}`, 204)
			if status, task := w.schedule(c); status != 200 || task["uuid"] != job.Tasks[0].ID {
				t.Fatalf("schedule after sign-on: %d", status)
			}
		})
	}
}

func TestForgetWorker(t *testing.T) {
	w := newWire(t, managertest.Config{})
	c := w.awakeWorker("w1")
	if err := w.m.ForgetWorker(c.id); err != nil {
		t.Fatal(err)
	}
	w.expect("POST", "/api/v3/worker/sign-on", c, `{"name":"w1","supported_task_types":["misc"],"software_version":"1"}`, 403)
	id := w.m.AddWorker("pre", "pw", "misc")
	w.expect("POST", "/api/v3/worker/sign-on", &creds{id, "pw"}, `{"name":"pre","supported_task_types":["misc"],"software_version":"1"}`, 200)
}

func TestDependencies(t *testing.T) {
	w := newWire(t, managertest.Config{})
	c := w.awakeWorker("w1")
	job := w.m.AddJob(managertest.Job{Tasks: []managertest.Task{
		{Name: "video", Priority: 90, DependsOn: nil},
		{Name: "frames"},
		{Name: "after-frames", Priority: 100, DependsOn: []string{"frames"}},
	}})
	var order []string
	for range 3 {
		status, task := w.schedule(c)
		if status != 200 {
			t.Fatalf("schedule: %d", status)
		}
		order = append(order, task["name"].(string))
		w.expect("POST", "/api/v3/worker/task/"+task["uuid"].(string), c, `{"taskStatus":"completed"}`, 204)
	}
	if got := strings.Join(order, ","); got != "video,frames,after-frames" {
		t.Fatalf("order %s", got)
	}
	if js, _ := w.m.Job(job.ID); js.Status != "completed" {
		t.Fatalf("job %q, want completed", js.Status)
	}
}

// TestSharedTaskNames: the real Manager's Echo Sleep Test job has two tasks
// named "sleep"; a dependency on the name waits for both.
func TestSharedTaskNames(t *testing.T) {
	w := newWire(t, managertest.Config{})
	c := w.awakeWorker("w1")
	w.m.AddJob(managertest.Job{Tasks: []managertest.Task{
		{Name: "sleep"}, {Name: "sleep"}, {Name: "after", Priority: 100, DependsOn: []string{"sleep"}},
	}})
	var order []string
	for range 3 {
		status, task := w.schedule(c)
		if status != 200 {
			t.Fatalf("schedule: %d", status)
		}
		order = append(order, task["name"].(string))
		w.expect("POST", "/api/v3/worker/task/"+task["uuid"].(string), c, `{"taskStatus":"completed"}`, 204)
	}
	if got := strings.Join(order, ","); got != "sleep,sleep,after" {
		t.Fatalf("order %s", got)
	}
}

// TestStatusRequestBeforeWrongState: like the real Manager, a pending status
// change (423) is answered before a worker's wrong status (409).
func TestStatusRequestBeforeWrongState(t *testing.T) {
	w := newWire(t, managertest.Config{})
	c := w.awakeWorker("w1")
	w.expect("POST", "/api/v3/worker/state-changed", c, `{"status":"asleep"}`, 204)
	if status, _ := w.schedule(c); status != 409 {
		t.Fatalf("asleep worker fetching: %d, want 409", status)
	}
	if err := w.m.RequestStatus(c.id, "offline", false); err != nil {
		t.Fatal(err)
	}
	if status, _ := w.schedule(c); status != 423 {
		t.Fatalf("asleep worker with a pending change fetching: %d, want 423", status)
	}
}

// TestNonUUIDIDs: Config.NewID shapes every id the fake hands out.
func TestNonUUIDIDs(t *testing.T) {
	n := 0
	w := newWire(t, managertest.Config{NewID: func() string { n++; return fmt.Sprintf("id %d/ä", n) }})
	c := w.awakeWorker("w1")
	if c.id != "id 1/ä" {
		t.Fatalf("worker id %q", c.id)
	}
	job := w.m.AddJob(oneTaskJob("misc"))
	status, task := w.schedule(c)
	if status != 200 || task["uuid"] != job.Tasks[0].ID || task["job"] != "id 2/ä" || job.Tasks[0].ID != "id 3/ä" {
		t.Fatalf("schedule: %d %v (job %+v)", status, task, job)
	}
	w.expect("POST", "/api/v3/worker/task/"+url.PathEscape(job.Tasks[0].ID), c, `{"taskStatus":"completed"}`, 204)
	if s := w.m.MustTask(w.t, job.Tasks[0].ID); s.Status != "completed" {
		t.Fatalf("task %s", s.Status)
	}
}

func TestOutputProduced(t *testing.T) {
	w := newWire(t, managertest.Config{OutputQueueSize: 2})
	c := w.awakeWorker("w1")
	job := w.m.AddJob(oneTaskJob("misc"))
	w.schedule(c)
	path := "/api/v3/worker/task/" + job.Tasks[0].ID + "/output-produced"
	post := func(contentType string, body io.Reader, length int64) int {
		req, _ := http.NewRequest("POST", w.m.URL()+path, body)
		req.ContentLength = length
		req.Header.Set("Content-Type", contentType)
		req.SetBasicAuth(c.id, c.secret)
		resp, err := w.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	png := []byte("\x89PNG fake image")
	if got := post("image/png", bytes.NewReader(png), int64(len(png))); got != 202 {
		t.Fatalf("png: %d", got)
	}
	if got := post("image/gif", bytes.NewReader(png), int64(len(png))); got != 415 {
		t.Fatalf("gif: %d, want 415", got)
	}
	if got := post("image/png", io.NopCloser(bytes.NewReader(png)), -1); got != 411 {
		t.Fatalf("chunked: %d, want 411", got)
	}
	w.m.HoldOutputs(true)
	for i, want := range []int{202, 202, 429} {
		if got := post("image/jpeg", bytes.NewReader(png), int64(len(png))); got != want {
			t.Fatalf("held output %d: %d, want %d", i, got, want)
		}
	}
	w.m.HoldOutputs(false)
	if got := post("image/jpeg", bytes.NewReader(png), int64(len(png))); got != 202 {
		t.Fatalf("after release: %d", got)
	}
	outs := w.m.Outputs()
	if len(outs) != 4 || outs[0].ContentType != "image/png" || string(outs[0].Data) != string(png) || outs[0].TaskID != job.Tasks[0].ID {
		t.Fatalf("outputs: %d %+v", len(outs), outs[0])
	}
	req, _ := http.NewRequest("POST", w.m.URL()+"/api/v3/worker/task/nope/output-produced", bytes.NewReader(png))
	req.Header.Set("Content-Type", "image/png")
	req.SetBasicAuth(c.id, c.secret)
	resp, err := w.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("unknown task: %d, want 404", resp.StatusCode)
	}
}

func TestFaults(t *testing.T) {
	t.Run("status with retry-after, counted", func(t *testing.T) {
		w := newWire(t, managertest.Config{})
		c := w.awakeWorker("w1")
		if err := w.m.SetFault(managertest.Fault{Op: managertest.OpScheduleTask, Status: 503, RetryAfter: time.Second, Count: 2}); err != nil {
			t.Fatal(err)
		}
		w.expect("GET", "/api/v3/worker/state", c, "", 204) // another op is not affected
		for range 2 {
			req, _ := http.NewRequest("POST", w.m.URL()+"/api/v3/worker/task", nil)
			req.SetBasicAuth(c.id, c.secret)
			resp, err := w.http.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" {
				t.Fatalf("got %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
			}
		}
		if status, _ := w.schedule(c); status != 204 {
			t.Fatalf("after the count: %d, want 204", status)
		}
	})
	t.Run("reset", func(t *testing.T) {
		w := newWire(t, managertest.Config{})
		_ = w.m.SetFault(managertest.Fault{Path: "/api/v3/version", Reset: true})
		if _, _, err := w.try("GET", "/api/v3/version", nil, "", ""); err == nil {
			t.Fatal("no error from a reset connection")
		}
		_ = w.m.ClearFaults()
		w.expect("GET", "/api/v3/version", nil, "", 200)
		if r := w.m.Requests(); !r[0].Fault || r[0].Status != 0 || r[len(r)-1].Fault {
			t.Fatalf("requests: %+v", r)
		}
	})
	t.Run("malformed JSON", func(t *testing.T) {
		w := newWire(t, managertest.Config{})
		c := w.awakeWorker("w1")
		job := w.m.AddJob(oneTaskJob("misc"))
		_ = w.m.SetFault(managertest.Fault{Op: managertest.OpScheduleTask, MalformedJSON: true, Count: 1})
		status, body := w.call("POST", "/api/v3/worker/task", c, "")
		if status != 200 || json.Valid([]byte(body)) {
			t.Fatalf("got %d %q, want 200 with broken JSON", status, body)
		}
		// The Manager did assign it: the worker gets the same task again.
		if s := w.m.MustTask(w.t, job.Tasks[0].ID); s.Worker != c.id {
			t.Fatal("the task was not assigned behind the broken answer")
		}
		if status, task := w.schedule(c); status != 200 || task["uuid"] != job.Tasks[0].ID {
			t.Fatalf("retry: %d", status)
		}
	})
	t.Run("after handling", func(t *testing.T) {
		w := newWire(t, managertest.Config{})
		c := w.awakeWorker("w1")
		job := w.m.AddJob(oneTaskJob("misc"))
		w.schedule(c)
		_ = w.m.SetFault(managertest.Fault{Op: managertest.OpTaskUpdate, Status: 502, AfterHandling: true, Count: 1})
		w.expect("POST", "/api/v3/worker/task/"+job.Tasks[0].ID, c, `{"log":"once"}`, 502)
		if s := w.m.MustTask(w.t, job.Tasks[0].ID); s.Log != "once\n" {
			t.Fatalf("log %q: the update should have landed", s.Log)
		}
	})
	t.Run("conflict", func(t *testing.T) {
		w := newWire(t, managertest.Config{})
		c := w.awakeWorker("w1")
		_ = w.m.SetFault(managertest.Fault{Conflict409: true, Path: "/api/v3/worker/task", Count: 1})
		if status, _ := w.schedule(c); status != 409 {
			t.Fatalf("got %d, want 409", status)
		}
	})
	t.Run("delay, client gives up", func(t *testing.T) {
		w := newWire(t, managertest.Config{})
		c := w.awakeWorker("w1")
		job := w.m.AddJob(oneTaskJob("misc"))
		_ = w.m.SetFault(managertest.Fault{Op: managertest.OpScheduleTask, Delay: time.Hour})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "POST", w.m.URL()+"/api/v3/worker/task", nil)
		req.SetBasicAuth(c.id, c.secret)
		if _, err := w.http.Do(req); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err %v, want a deadline", err)
		}
		// The abandoned request was not handled.
		wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer wcancel()
		if err := w.m.WaitFor(wctx, func() bool { return len(w.m.Requests()) == 4 }); err != nil {
			t.Fatal(err)
		}
		if s := w.m.MustTask(w.t, job.Tasks[0].ID); s.Worker != "" {
			t.Fatal("a request the client abandoned during the delay was handled")
		}
	})
	t.Run("delay of a request with a body, client gives up", func(t *testing.T) {
		w := newWire(t, managertest.Config{})
		c := w.awakeWorker("w1")
		job := w.m.AddJob(oneTaskJob("misc"))
		w.schedule(c)
		_ = w.m.SetFault(managertest.Fault{Op: managertest.OpTaskUpdate, Delay: time.Hour})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "POST", w.m.URL()+"/api/v3/worker/task/"+job.Tasks[0].ID, strings.NewReader(`{"log":"abandoned"}`))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth(c.id, c.secret)
		if _, err := w.http.Do(req); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err %v, want a deadline", err)
		}
		wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer wcancel()
		if err := w.m.WaitFor(wctx, func() bool { return w.m.MustTask(w.t, job.Tasks[0].ID).UpdatesReceived > 0 || len(w.m.Requests()) == 5 }); err != nil {
			t.Fatal(err)
		}
		if s := w.m.MustTask(w.t, job.Tasks[0].ID); s.Log != "" {
			t.Fatalf("log %q: a request the client abandoned during the delay was handled", s.Log)
		}
	})
	t.Run("down and up again", func(t *testing.T) {
		w := newWire(t, managertest.Config{})
		c := w.awakeWorker("w1") // leaves a kept-alive connection
		url := w.m.URL()
		_ = w.m.SetFault(managertest.Fault{Down: true})
		_, _, err := w.try("GET", "/api/v3/worker/state", c, "", "")
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("err %v, want connection refused", err)
		}
		if err := w.m.ClearFaults(); err != nil {
			t.Fatal(err)
		}
		if w.m.URL() != url {
			t.Fatalf("URL changed from %s to %s", url, w.m.URL())
		}
		w.expect("GET", "/api/v3/worker/state", c, "", 204)
	})
	t.Run("bad fault", func(t *testing.T) {
		w := newWire(t, managertest.Config{})
		if err := w.m.SetFault(managertest.Fault{Status: 42}); err == nil {
			t.Fatal("status 42 accepted")
		}
	})
}

func TestKeepAliveAndRequestLog(t *testing.T) {
	w := newWire(t, managertest.Config{})
	c := w.awakeWorker("w1")
	for range 10 {
		w.expect("GET", "/api/v3/worker/state", c, "", 204)
	}
	if n := w.m.Connections(); n != 1 {
		t.Fatalf("%d connections for sequential requests, want 1", n)
	}
	reqs := w.m.Requests()
	if len(reqs) != 13 || reqs[0].Op != managertest.OpRegister || reqs[1].Op != managertest.OpSignOn || reqs[12].Worker != c.id || reqs[12].Status != 204 {
		t.Fatalf("requests: %+v", reqs)
	}
}

func TestWaitFor(t *testing.T) {
	w := newWire(t, managertest.Config{})
	c := w.awakeWorker("w1")
	job := w.m.AddJob(oneTaskJob("misc"))
	done := make(chan error, 1)
	go func() {
		done <- w.m.WaitFor(context.Background(), func() bool {
			s, _ := w.m.Task(job.Tasks[0].ID)
			return s.Status == "completed"
		})
	}()
	w.schedule(c)
	w.expect("POST", "/api/v3/worker/task/"+job.Tasks[0].ID, c, `{"taskStatus":"completed"}`, 204)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.m.WaitFor(ctx, func() bool { return false }); err == nil {
		t.Fatal("WaitFor returned nil for an unmet condition")
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestSharedStorage(t *testing.T) {
	cases := []struct {
		name, storage, path string
		status              int
		body                string
	}{
		{"default", "", "/api/v3/configuration/shared-storage/workers/linux", 200,
			`{"location":"` + managertest.DefaultSharedStorage + `","audience":"workers","platform":"linux","shamanEnabled":false}`},
		{"configured", "/mnt/farm", "/api/v3/configuration/shared-storage/workers/windows", 200,
			`{"location":"/mnt/farm","audience":"workers","platform":"windows","shamanEnabled":false}`},
		{"bad audience", "", "/api/v3/configuration/shared-storage/robots/linux", 400, `invalid audience`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWire(t, managertest.Config{SharedStorage: tc.storage})
			status, body := w.call("GET", tc.path, nil, "")
			if status != tc.status || !strings.Contains(body, tc.body) {
				t.Fatalf("%d %s, want %d %s", status, body, tc.status, tc.body)
			}
		})
	}
}

// The helpers for tests: statuses in order, request counts, protocol check.
func TestTestHelpers(t *testing.T) {
	w := newWire(t, managertest.Config{})
	w.m.AddJob(oneTaskJob("misc"))
	c := w.awakeWorker("helper")
	_, task := w.schedule(c)
	id := task["uuid"].(string)
	update := "/api/v3/worker/task/" + id
	w.expect("POST", update, c, `{"taskStatus":"active"}`, 204)
	w.expect("POST", update, c, `{"log":"a line"}`, 204)
	w.expect("POST", update, c, `{"taskStatus":"completed"}`, 204)

	if got := w.m.MustTask(t, id).Statuses(); strings.Join(got, ",") != "active,completed" {
		t.Errorf("Statuses = %v, want [active completed]", got)
	}
	if n := w.m.RequestCount(managertest.OpTaskUpdate, id); n != 3 {
		t.Errorf("RequestCount(task-update, %s) = %d, want 3", id, n)
	}
	if n := w.m.RequestCount(managertest.OpSignOn, ""); n != 1 {
		t.Errorf("RequestCount(sign-on) = %d, want 1", n)
	}
	w.m.CheckProtocol(t)
}
