package managertest_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/internal/managertest"
)

// The faults that play a proxy or a misconfigured Manager: body limit,
// redirects, 401 challenges, rewritten answers.

func TestBodyLimitFault(t *testing.T) {
	w := newWire(t, managertest.Config{})
	c := w.awakeWorker("w1")
	job := w.m.AddJob(oneTaskJob("misc"))
	w.schedule(c)
	path := "/api/v3/worker/task/" + job.Tasks[0].ID
	if err := w.m.SetFault(managertest.Fault{Op: managertest.OpTaskUpdate, BodyLimit: 100}); err != nil {
		t.Fatal(err)
	}
	big := `{"log":"` + strings.Repeat("x", 200) + `"}`
	answer := w.expect("POST", path, c, big, http.StatusRequestEntityTooLarge)
	if !strings.Contains(answer, "<center>nginx</center>") {
		t.Errorf("413 answer %q, want nginx's page", answer)
	}
	w.expect("POST", path, c, `{"log":"small"}`, http.StatusNoContent)
	if s := w.m.MustTask(w.t, job.Tasks[0].ID); s.Log != "small\n" {
		t.Errorf("log %q: the refused update must not be handled, the small one must", s.Log)
	}
}

func TestRedirectFault(t *testing.T) {
	w := newWire(t, managertest.Config{})
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	cases := []struct {
		fault    managertest.Fault
		location string
	}{
		{managertest.Fault{Op: managertest.OpVersion, Redirect: 301, Count: 1}, w.m.URL() + "/api/v3/version"},
		{managertest.Fault{Op: managertest.OpVersion, Redirect: 307, RedirectTo: "http://other:9000/prefix", Count: 1}, "http://other:9000/prefix/api/v3/version"},
	}
	for _, tc := range cases {
		if err := w.m.SetFault(tc.fault); err != nil {
			t.Fatal(err)
		}
		resp, err := noFollow.Get(w.m.URL() + "/api/v3/version")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.fault.Redirect || resp.Header.Get("Location") != tc.location {
			t.Errorf("answer %d Location %q, want %d %q", resp.StatusCode, resp.Header.Get("Location"), tc.fault.Redirect, tc.location)
		}
	}
	w.expect("GET", "/api/v3/version", nil, "", 200) // Count 1: used up
	if err := w.m.SetFault(managertest.Fault{Redirect: 304}); err == nil {
		t.Error("SetFault accepted 304 as a redirect")
	}
}

func TestUnauthorizedFault(t *testing.T) {
	w := newWire(t, managertest.Config{})
	c := w.awakeWorker("w1")
	if err := w.m.SetFault(managertest.Fault{Op: managertest.OpState, Status: 401, Count: 1}); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", w.m.URL()+"/api/v3/worker/state", nil)
	req.SetBasicAuth(c.id, c.secret)
	resp, err := w.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("answer %d WWW-Authenticate %q, want 401 with a Basic challenge", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}

func TestRewriteAnswerFault(t *testing.T) {
	w := newWire(t, managertest.Config{})
	c := w.awakeWorker("w1")
	job := w.m.AddJob(oneTaskJob("misc"))
	if err := w.m.SetFault(managertest.Fault{Op: managertest.OpScheduleTask, RewriteAnswer: managertest.SetField("commands", nil), Count: 1}); err != nil {
		t.Fatal(err)
	}
	status, body := w.call("POST", "/api/v3/worker/task", c, "")
	var task map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &task); status != 200 || err != nil {
		t.Fatalf("got %d %q (%v), want 200 with a JSON task", status, body, err)
	}
	if string(task["commands"]) != "null" || string(task["uuid"]) != `"`+job.Tasks[0].ID+`"` {
		t.Errorf("answer %s, want the assigned task with commands null", body)
	}
	if s := w.m.MustTask(w.t, job.Tasks[0].ID); s.Worker != c.id || s.Status != managertest.StatusActive {
		t.Errorf("task %+v: the Manager must have assigned it behind the rewritten answer", s)
	}
}

func TestSetTaskField(t *testing.T) {
	rewrite := managertest.SetTaskField("t1", "commands", nil)
	for _, tc := range []struct{ in, want string }{
		{`{"uuid":"t1","commands":[]}`, `{"commands":null,"uuid":"t1"}`},
		{`{"uuid":"t2","commands":[]}`, `{"uuid":"t2","commands":[]}`},
	} {
		if got := string(rewrite([]byte(tc.in))); got != tc.want {
			t.Errorf("rewrite(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
