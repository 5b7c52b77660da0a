package managertest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/internal/flamencotrace"
	"github.com/cajonfarm/cajon/internal/managertest"
)

// replay is one recorded session played against the fake.
type replay struct {
	t    *testing.T
	w    *wire
	tr   flamencotrace.Trace
	c    *creds // the worker's credentials
	task string // id of the recorded task the trace is about, if any
}

// traceScenario puts the fake in the state the real Manager was in: the
// worker and jobs it knew, and what its admin did between two requests.
type traceScenario struct {
	// registers: the trace starts with register-worker; otherwise the
	// worker is registered, signed on and awake before the first request.
	registers bool
	// before runs a Manager-side action before request i.
	before map[int]func(r *replay)
	// unknownCreds lists requests sent with credentials the Manager does
	// not know.
	unknownCreds []int
}

var traceScenarios = map[string]traceScenario{
	"01-register-signon":       {registers: true},
	"02-echo-sleep-test":       {},
	"03-simple-blender-render": {},
	"04-cancel-running-task": {before: map[int]func(*replay){
		2: func(r *replay) { r.must(r.w.m.CancelTask(r.task)) }, // canceled in the web interface
	}},
	"05-worker-actions": {before: map[int]func(*replay){
		0: func(r *replay) { r.must(r.w.m.RequestStatus(r.c.id, managertest.WorkerAsleep, false)) },
		2: func(r *replay) { r.must(r.w.m.RequestStatus(r.c.id, managertest.WorkerAwake, false)) },
	}},
	"06-refused-requests": {unknownCreds: []int{0}},
	"07-shutdown-lazy": {before: map[int]func(*replay){
		0: func(r *replay) { r.must(r.w.m.RequestStatus(r.c.id, managertest.WorkerOffline, true)) },
	}},
}

// TestFakeAnswersLikeTheRecordedManager replays every request of the
// recorded sessions (internal/flamencotrace) against the fake Manager, in
// the same state, and checks that it answers with the real Manager's status
// code, Content-Type, JSON field names and JSON types, and the same value
// for the fields a worker acts on.
func TestFakeAnswersLikeTheRecordedManager(t *testing.T) {
	traces, err := flamencotrace.All()
	if err != nil {
		t.Fatal(err)
	}
	if len(traces) != len(traceScenarios) {
		t.Fatalf("%d traces, %d scenarios: give every trace a scenario", len(traces), len(traceScenarios))
	}
	for _, tr := range traces {
		t.Run(tr.Name, func(t *testing.T) {
			sc, ok := traceScenarios[tr.Name]
			if !ok {
				t.Fatalf("no scenario for trace %s", tr.Name)
			}
			// The fake hands out the recorded worker id, where there is one.
			cfg := managertest.Config{}
			for _, e := range tr.Exchanges {
				var reg struct{ UUID string }
				if e.Path == "/api/v3/worker/register-worker" && json.Unmarshal(e.Answer, &reg) == nil && reg.UUID != "" {
					cfg.NewID = func() string { return reg.UUID }
				}
			}
			r := &replay{t: t, w: newWire(t, cfg), tr: tr}
			r.addRecordedJobs()
			if !sc.registers {
				r.c = r.awakeWorker()
			}
			for i, e := range tr.Exchanges {
				if f := sc.before[i]; f != nil {
					f(r)
				}
				c := r.c
				if slices.Contains(sc.unknownCreds, i) {
					c = &creds{id: "a6b3f722-2c9b-41e1-8281-0ff9a3469a51", secret: "not-known"}
				}
				status, header, answer := r.send(e, c)
				where := fmt.Sprintf("request %d, %s %s", i, e.Method, e.Path)
				if status != e.Status {
					t.Errorf("%s: status %d, the real Manager answered %d; answer %s", where, status, e.Status, answer)
					continue
				}
				if want := e.AnswerHeaders["Content-Type"]; want != header.Get("Content-Type") {
					t.Errorf("%s: Content-Type %q, the real Manager sent %q", where, header.Get("Content-Type"), want)
				}
				compareAnswers(t, where, e.Answer, answer)
				if e.Path == "/api/v3/worker/register-worker" && status == 200 {
					var reg struct{ UUID string }
					r.must(json.Unmarshal(answer, &reg))
					r.c = &creds{id: reg.UUID, secret: "trace-secret"}
				}
			}
			if errs := r.w.m.ProtocolErrors(); len(errs) > 0 && tr.Name != "06-refused-requests" {
				t.Errorf("the fake found protocol errors in the stock worker's requests: %q", errs)
			}
		})
	}
}

func (r *replay) must(err error) {
	r.t.Helper()
	if err != nil {
		r.t.Fatal(err)
	}
}

// awakeWorker registers, signs on and wakes a worker of every task type the
// stock worker supports.
func (r *replay) awakeWorker() *creds {
	c := &creds{secret: "trace-secret"}
	body := r.w.expect("POST", "/api/v3/worker/register-worker", nil,
		`{"name":"vm","secret":"trace-secret","platform":"linux","supported_task_types":["blender","ffmpeg","file-management","misc"]}`, 200)
	var reg struct{ UUID string }
	r.must(json.Unmarshal([]byte(body), &reg))
	c.id = reg.UUID
	r.w.expect("POST", "/api/v3/worker/sign-on", c, `{"name":"vm","supported_task_types":["blender","ffmpeg","file-management","misc"],"software_version":"3.8.5","can_restart":true}`, 200)
	r.w.expect("POST", "/api/v3/worker/state-changed", c, `{"status":"awake"}`, 204)
	return c
}

// addRecordedJobs gives the fake the jobs whose tasks the trace hands out,
// with the recorded ids, names, types, priorities and commands, in order.
func (r *replay) addRecordedJobs() {
	var jobs []*managertest.Job
	byID := map[string]*managertest.Job{}
	for _, raw := range r.tr.AssignedTasks() {
		var a struct {
			UUID        string `json:"uuid"`
			Job         string `json:"job"`
			Name        string `json:"name"`
			JobType     string `json:"job_type"`
			TaskType    string `json:"task_type"`
			Priority    int    `json:"priority"`
			JobPriority int    `json:"job_priority"`
			Commands    []struct {
				Name           string         `json:"name"`
				Parameters     map[string]any `json:"parameters"`
				TotalStepCount int            `json:"total_step_count"`
			} `json:"commands"`
		}
		r.must(json.Unmarshal(raw, &a))
		j := byID[a.Job]
		if j == nil {
			j = &managertest.Job{ID: a.Job, Name: "recorded " + a.JobType, Type: a.JobType, Priority: a.JobPriority}
			byID[a.Job] = j
			jobs = append(jobs, j)
		}
		task := managertest.Task{ID: a.UUID, Name: a.Name, Type: a.TaskType, Priority: a.Priority}
		for _, c := range a.Commands {
			task.Commands = append(task.Commands, managertest.Command{Name: c.Name, Parameters: c.Parameters, TotalStepCount: c.TotalStepCount})
		}
		j.Tasks = append(j.Tasks, task)
		r.task = a.UUID
	}
	for _, j := range jobs {
		r.w.m.AddJob(*j)
	}
}

// send replays one recorded request with its body and content type.
func (r *replay) send(e flamencotrace.Exchange, c *creds) (int, http.Header, json.RawMessage) {
	r.t.Helper()
	var body []byte
	switch n, binary := e.BinaryBytes(); {
	case binary:
		body = bytes.Repeat([]byte{0xff}, n)
	case !e.HasBody():
	case e.Request[0] == '"': // a text body, recorded as a JSON string
		var text string
		r.must(json.Unmarshal(e.Request, &text))
		body = []byte(text)
	default:
		body = []byte(strings.ReplaceAll(string(e.Request), flamencotrace.Secret, "trace-secret"))
	}
	req, err := http.NewRequest(e.Method, r.w.m.URL()+e.Path, bytes.NewReader(body))
	r.must(err)
	if ct := e.RequestHeaders["Content-Type"]; ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if c != nil {
		req.SetBasicAuth(c.id, c.secret)
	}
	resp, err := r.w.http.Do(req)
	r.must(err)
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	r.must(err)
	return resp.StatusCode, resp.Header, answer
}

// actedOn are answer fields whose value a worker acts on: the fake must give
// the recorded value, not only the recorded type.
var actedOn = []string{"status_requested", "mayKeepRunning", "statusChangeRequested", "code", "uuid", "job", "status", "commands", "steps_total"}

// compareAnswers checks a fake answer against a recorded one: both empty,
// or JSON of the same shape (field names and JSON types, recursively) with
// the same values in the actedOn fields.
func compareAnswers(t *testing.T, where string, recorded, fake json.RawMessage) {
	t.Helper()
	recEmpty := len(recorded) == 0 || string(recorded) == "null"
	if recEmpty || len(fake) == 0 {
		if recEmpty != (len(fake) == 0) {
			t.Errorf("%s: answer %q, the real Manager's %s", where, fake, recorded)
		}
		return
	}
	var rec, got any
	if err := json.Unmarshal(recorded, &rec); err != nil {
		t.Fatalf("%s: recorded answer: %v", where, err)
	}
	if err := json.Unmarshal(fake, &got); err != nil {
		t.Errorf("%s: answer is not JSON: %v: %s", where, err, fake)
		return
	}
	if rs, gs := shape(rec), shape(got); rs != gs {
		t.Errorf("%s: answer shaped\n  %s\nthe real Manager's\n  %s", where, gs, rs)
	}
	recObj, _ := rec.(map[string]any)
	gotObj, _ := got.(map[string]any)
	for _, f := range actedOn {
		if rv, ok := recObj[f]; ok {
			if rj, gj := mustJSON(t, rv), mustJSON(t, gotObj[f]); rj != gj {
				t.Errorf("%s: %s is %s, the real Manager said %s", where, f, gj, rj)
			}
		}
	}
}

// shape describes a JSON value's structure without its values: objects by
// their field names and the shapes of their values, arrays by the distinct
// shapes of their elements.
func shape(v any) string {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ":" + shape(x[k])
		}
		return "{" + strings.Join(parts, ",") + "}"
	case []any:
		set := map[string]bool{}
		for _, e := range x {
			set[shape(e)] = true
		}
		parts := make([]string, 0, len(set))
		for s := range set {
			parts = append(parts, s)
		}
		sort.Strings(parts)
		return "[" + strings.Join(parts, "|") + "]"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}
