package flamenco_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/flamenco"
	"github.com/cajonfarm/cajon/host/version"
	"github.com/cajonfarm/cajon/internal/managertest"
)

func newClient(t *testing.T, m *managertest.Manager, timeout time.Duration) *flamenco.Client {
	t.Helper()
	c, err := flamenco.New(flamenco.Config{BaseURL: m.URL(), Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// awake registers, signs on and wakes a worker that runs misc tasks.
func awake(t *testing.T, m *managertest.Manager) *flamenco.Client {
	t.Helper()
	ctx := context.Background()
	anon := newClient(t, m, 0)
	reg, err := anon.Register(ctx, flamenco.WorkerRegistration{Name: "w1", Secret: "pw", Platform: runtime.GOOS, SupportedTaskTypes: []string{"misc"}})
	if err != nil {
		t.Fatal(err)
	}
	c := anon.WithCredentials(reg.UUID, "pw")
	if _, err := c.SignOn(ctx, flamenco.WorkerSignOn{Name: "w1", SupportedTaskTypes: []string{"misc"}, SoftwareVersion: version.Version}); err != nil {
		t.Fatal(err)
	}
	if err := c.StateChanged(ctx, flamenco.WorkerAwake); err != nil {
		t.Fatal(err)
	}
	return c
}

func echoJob() managertest.Job {
	return managertest.Job{Name: "echo", Type: "echo-sleep-test", Tasks: []managertest.Task{{
		Name: "echo", Type: "misc",
		Commands: []managertest.Command{
			{Name: "echo", Parameters: map[string]any{"message": "hello"}},
			{Name: "sleep", Parameters: map[string]any{"duration_in_seconds": 1}, TotalStepCount: 2},
		},
	}}}
}

func TestNewValidatesURL(t *testing.T) {
	cases := []struct{ url, wantErr string }{
		{"http://manager:8080", ""},
		{"https://manager.example/flamenco/", ""},
		{"", "empty"},
		{"manager:8080", "scheme"},
		{"ftp://manager", "scheme"},
		{"http://", "host"},
		{"http://user:pw@manager", "credentials"},
		{"http://manager/?x=1", "query"},
		{"http://man ager", "invalid"},
	}
	for _, tc := range cases {
		t.Run(tc.url, func(t *testing.T) {
			_, err := flamenco.New(flamenco.Config{BaseURL: tc.url})
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.wantErr)
			}
		})
	}
	if _, err := flamenco.New(flamenco.Config{BaseURL: "http://m", Timeout: -time.Second}); err == nil {
		t.Fatal("negative timeout accepted")
	}
}

func TestEveryEndpoint(t *testing.T) {
	ctx := context.Background()
	m := managertest.New(t, managertest.Config{})
	anon := newClient(t, m, 0)

	v, err := anon.Version(ctx)
	if err != nil || v.ShortVersion == "" || v.Version == "" {
		t.Fatalf("Version: %+v %v", v, err)
	}
	reg, err := anon.Register(ctx, flamenco.WorkerRegistration{Name: "w1", Secret: "pw", Platform: "linux", SupportedTaskTypes: []string{"misc"}})
	if err != nil || reg.UUID == "" || reg.Name != "w1" || reg.Platform != "linux" {
		t.Fatalf("Register: %+v %v", reg, err)
	}
	c := anon.WithCredentials(reg.UUID, "pw")
	if c.WorkerID() != reg.UUID || anon.WorkerID() != "" {
		t.Fatal("WithCredentials changed the original client")
	}
	st, err := c.SignOn(ctx, flamenco.WorkerSignOn{Name: "w1", SupportedTaskTypes: []string{"misc"}, SoftwareVersion: "1.2.3", CanRestart: true})
	if err != nil || st.StatusRequested != flamenco.WorkerAwake {
		t.Fatalf("SignOn: %+v %v", st, err)
	}
	if ws, _ := m.Worker(reg.UUID); ws.Status != "starting" || ws.SoftwareVersion != "1.2.3" || !ws.CanRestart {
		t.Fatalf("worker after sign-on: %+v", ws)
	}
	if err := c.StateChanged(ctx, flamenco.WorkerAwake); err != nil {
		t.Fatal(err)
	}
	if _, changed, err := c.State(ctx); err != nil || changed {
		t.Fatalf("State: changed=%v %v", changed, err)
	}
	if task, err := c.ScheduleTask(ctx); err != nil || task != nil {
		t.Fatalf("ScheduleTask on an empty queue: %+v %v", task, err)
	}

	job := m.AddJob(echoJob())
	task, err := c.ScheduleTask(ctx)
	if err != nil || task == nil {
		t.Fatalf("ScheduleTask: %+v %v", task, err)
	}
	want := flamenco.AssignedTask{
		UUID: job.Tasks[0].ID, Job: job.ID, Name: "echo", Status: flamenco.TaskActive,
		Priority: 50, JobPriority: 50, JobType: "echo-sleep-test", TaskType: "misc",
		Commands: []flamenco.Command{
			{Name: "echo", Parameters: map[string]any{"message": "hello"}},
			{Name: "sleep", Parameters: map[string]any{"duration_in_seconds": 1.0}, TotalStepCount: 2},
		},
		StepsTotal: 3,
	}
	if !reflect.DeepEqual(*task, want) {
		t.Fatalf("task\n got %+v\nwant %+v", *task, want)
	}

	updates := []flamenco.TaskUpdate{
		{Activity: "echoing", Log: "hello", StepsCompleted: new(0)},
		{Log: "slept\n", StepsCompleted: new(3)},
		{TaskStatus: flamenco.TaskCompleted},
	}
	for _, u := range updates {
		if err := c.UpdateTask(ctx, task.UUID, u); err != nil {
			t.Fatal(err)
		}
	}
	ts, _ := m.Task(task.UUID)
	if ts.Status != "completed" || ts.Log != "hello\nslept\n" || ts.Activity != "echoing" || ts.StepsCompleted != 3 {
		t.Fatalf("task on the Manager: %+v", ts)
	}
	// Omitted fields are not sent; steps 0 is.
	first, last := ts.Updates[0], ts.Updates[2]
	if first.StepsCompleted == nil || *first.StepsCompleted != 0 || first.TaskStatus != nil {
		t.Fatalf("first update as received: %+v", first)
	}
	if last.Activity != nil || last.Log != nil || last.StepsCompleted != nil || *last.TaskStatus != "completed" {
		t.Fatalf("status-only update as received: %+v", last)
	}

	mk, err := c.MayIRun(ctx, task.UUID)
	if err != nil || mk.MayKeepRunning || !strings.Contains(mk.Reason, "completed") {
		t.Fatalf("MayIRun on a completed task: %+v %v", mk, err)
	}
	if err := c.OutputProduced(ctx, task.UUID, "image/png", []byte("\x89PNG...")); err != nil {
		t.Fatal(err)
	}
	if out := m.Outputs(); len(out) != 1 || out[0].ContentType != "image/png" || string(out[0].Data) != "\x89PNG..." {
		t.Fatalf("outputs: %+v", out)
	}

	if err := m.RequestStatus(reg.UUID, "asleep", true); err != nil {
		t.Fatal(err)
	}
	if req, changed, err := c.State(ctx); err != nil || !changed || req.StatusRequested != flamenco.WorkerAsleep {
		t.Fatalf("State with a pending change: %+v %v %v", req, changed, err)
	}
	_, err = c.ScheduleTask(ctx)
	if got, ok := flamenco.RequestedStatus(err); !ok || got != flamenco.WorkerAsleep || flamenco.KindOf(err) != flamenco.KindLocked {
		t.Fatalf("ScheduleTask with a pending change: %v", err)
	}
	if err := c.SignOff(ctx); err != nil {
		t.Fatal(err)
	}
	if ws, _ := m.Worker(reg.UUID); ws.Status != "offline" {
		t.Fatalf("after sign-off: %q", ws.Status)
	}
	if pe := m.ProtocolErrors(); len(pe) != 0 {
		t.Fatalf("the client broke the protocol: %v", pe)
	}
}

func TestHeaders(t *testing.T) {
	m := managertest.New(t, managertest.Config{})
	c := awake(t, m)
	// The real Manager answers may-i-run of an unknown task with a plain no
	// (trace 06-refused-requests).
	if may, err := c.MayIRun(context.Background(), "unknown"); err != nil || may.MayKeepRunning || may.Reason != "Task not found" {
		t.Fatalf("MayIRun unknown: %+v, %v", may, err)
	}
	for _, r := range m.Requests() {
		if r.UserAgent != version.UserAgent() {
			t.Errorf("%s: User-Agent %q", r.Op, r.UserAgent)
		}
		wantAuth := r.Op != managertest.OpRegister && r.Op != managertest.OpVersion
		if (r.Worker != "") != wantAuth {
			t.Errorf("%s: sent credentials %q, want them: %v", r.Op, r.Worker, wantAuth)
		}
	}
}

func TestKeepAlive(t *testing.T) {
	ctx := context.Background()
	m := managertest.New(t, managertest.Config{})
	c := awake(t, m)
	job := m.AddJob(echoJob())
	if _, err := c.ScheduleTask(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if _, err := c.MayIRun(ctx, job.Tasks[0].ID); err != nil {
			t.Fatal(err)
		}
		// Error answers must be drained too, or their connection is lost.
		if err := c.UpdateTask(ctx, "unknown", flamenco.TaskUpdate{Log: "x"}); flamenco.KindOf(err) != flamenco.KindNotFound {
			t.Fatalf("round %d: %v", i, err)
		}
	}
	if n := m.Connections(); n != 1 {
		t.Fatalf("%d TCP connections for sequential requests, want 1", n)
	}
}

func TestErrorKinds(t *testing.T) {
	type env struct {
		m    *managertest.Manager
		c    *flamenco.Client
		task string
	}
	cases := []struct {
		name      string
		timeout   time.Duration
		fault     *managertest.Fault
		call      func(ctx context.Context, e env) error
		kind      flamenco.Kind
		status    int
		retryable bool
		inMessage string
	}{
		{
			name: "bad credentials", kind: flamenco.KindUnauthorized, status: 403, inMessage: "credentials rejected",
			call: func(ctx context.Context, e env) error {
				_, err := e.c.WithCredentials(e.c.WorkerID(), "wrong").SignOn(ctx, flamenco.WorkerSignOn{Name: "w", SupportedTaskTypes: []string{"misc"}, SoftwareVersion: "1"})
				return err
			},
		},
		{
			name: "not awake", kind: flamenco.KindConflict, status: 409, inMessage: "sign on again",
			call: func(ctx context.Context, e env) error {
				if err := e.m.TimeOutWorker(e.c.WorkerID()); err != nil {
					return err
				}
				_, err := e.c.ScheduleTask(ctx)
				return err
			},
		},
		{
			name: "task not ours", kind: flamenco.KindConflict, status: 409, inMessage: "no longer assigned",
			call: func(ctx context.Context, e env) error {
				_ = e.m.TimeOutWorker(e.c.WorkerID())
				return e.c.UpdateTask(ctx, e.task, flamenco.TaskUpdate{Log: "x"})
			},
		},
		{
			name: "unknown task", kind: flamenco.KindNotFound, status: 404, inMessage: "does not know this task",
			call: func(ctx context.Context, e env) error {
				return e.c.UpdateTask(ctx, "no-such-task", flamenco.TaskUpdate{Log: "x"})
			},
		},
		{
			name: "status a worker may not send", kind: flamenco.KindBadRequest, status: 400, inMessage: "soft-failed",
			call: func(ctx context.Context, e env) error {
				return e.c.UpdateTask(ctx, e.task, flamenco.TaskUpdate{TaskStatus: flamenco.TaskSoftFailed})
			},
		},
		{
			name: "status change pending", kind: flamenco.KindLocked, status: 423, inMessage: `requests status "offline"`,
			call: func(ctx context.Context, e env) error {
				_ = e.m.RequestStatus(e.c.WorkerID(), "offline", true)
				_, err := e.c.ScheduleTask(ctx)
				return err
			},
		},
		{
			name: "thumbnail queue full", kind: flamenco.KindTooManyRequests, status: 429, retryable: true, inMessage: "slow down",
			call: func(ctx context.Context, e env) error {
				e.m.HoldOutputs(true)
				for {
					if err := e.c.OutputProduced(ctx, e.task, "image/jpeg", []byte("jpeg")); err != nil {
						return err
					}
				}
			},
		},
		{
			name: "busy database", kind: flamenco.KindServer, status: 503, retryable: true, inMessage: "retry after 2s",
			fault: &managertest.Fault{Op: managertest.OpScheduleTask, Status: 503, RetryAfter: 2 * time.Second},
			call: func(ctx context.Context, e env) error {
				_, err := e.c.ScheduleTask(ctx)
				if got := flamenco.RetryAfterOf(err); got != 2*time.Second {
					return errors.New("RetryAfter lost: " + got.String())
				}
				return err
			},
		},
		{
			name: "proxy error", kind: flamenco.KindServer, status: 502, retryable: true, inMessage: "proxy",
			fault: &managertest.Fault{Op: managertest.OpTaskUpdate, Status: 502},
			call: func(ctx context.Context, e env) error {
				return e.c.UpdateTask(ctx, e.task, flamenco.TaskUpdate{TaskStatus: flamenco.TaskCompleted})
			},
		},
		{
			name: "injected conflict", kind: flamenco.KindConflict, status: 409,
			fault: &managertest.Fault{Op: managertest.OpTaskUpdate, Conflict409: true},
			call: func(ctx context.Context, e env) error {
				return e.c.UpdateTask(ctx, e.task, flamenco.TaskUpdate{Log: "x"})
			},
		},
		{
			name: "malformed task", kind: flamenco.KindBadAnswer, status: 200, retryable: true, inMessage: "malformed JSON",
			fault: &managertest.Fault{Op: managertest.OpScheduleTask, MalformedJSON: true},
			call: func(ctx context.Context, e env) error {
				_, err := e.c.ScheduleTask(ctx)
				return err
			},
		},
		{
			name: "malformed may-i-run", kind: flamenco.KindBadAnswer, status: 200, retryable: true, inMessage: "malformed JSON",
			fault: &managertest.Fault{Op: managertest.OpMayIRun, MalformedJSON: true},
			call: func(ctx context.Context, e env) error {
				_, err := e.c.MayIRun(ctx, e.task)
				return err
			},
		},
		{
			name: "body where none belongs", kind: flamenco.KindBadAnswer, status: 200, retryable: true, inMessage: "unexpected status",
			fault: &managertest.Fault{Op: managertest.OpSignOff, MalformedJSON: true},
			call:  func(ctx context.Context, e env) error { return e.c.SignOff(ctx) },
		},
		{
			name: "401 challenge", kind: flamenco.KindAuthRequired, status: 401, retryable: true, inMessage: "not the Manager's answer to unknown credentials",
			fault: &managertest.Fault{Op: managertest.OpSignOn, Status: 401},
			call: func(ctx context.Context, e env) error {
				_, err := e.c.SignOn(ctx, flamenco.WorkerSignOn{Name: "w1", SupportedTaskTypes: []string{"misc"}, SoftwareVersion: "1"})
				return err
			},
		},
		{
			name: "body over a proxy's limit", kind: flamenco.KindTooLarge, status: 413, inMessage: "client_max_body_size",
			fault: &managertest.Fault{Op: managertest.OpTaskUpdate, BodyLimit: 1000},
			call: func(ctx context.Context, e env) error {
				return e.c.UpdateTask(ctx, e.task, flamenco.TaskUpdate{Log: strings.Repeat("x", 5000)})
			},
		},
		{
			name: "redirect that would lose the body", kind: flamenco.KindRedirect, status: 301, retryable: true, inMessage: "would turn the request into a GET",
			fault: &managertest.Fault{Op: managertest.OpTaskUpdate, Redirect: 301, Count: 1},
			call: func(ctx context.Context, e env) error {
				err := e.c.UpdateTask(ctx, e.task, flamenco.TaskUpdate{TaskStatus: flamenco.TaskCompleted})
				if !strings.Contains(fmt.Sprint(err), "redirected to "+e.m.URL()+"/api/v3/worker/task/"+e.task) {
					return fmt.Errorf("the Location is not named: %w", err)
				}
				for _, r := range e.m.Requests() {
					if r.Method == http.MethodGet && r.TaskID == e.task && r.Op == managertest.OpTaskUpdate {
						return errors.New("the redirect was followed with a GET")
					}
				}
				return err
			},
		},
		{
			name: "task with commands null", kind: flamenco.KindBadTask, status: 200, inMessage: "field commands: want a JSON array, got null",
			fault: &managertest.Fault{Op: managertest.OpScheduleTask, RewriteAnswer: managertest.SetField("commands", nil)},
			call: func(ctx context.Context, e env) error {
				_, err := e.c.ScheduleTask(ctx)
				if fe := (*flamenco.Error)(nil); errors.As(err, &fe) && fe.TaskID != e.task {
					return fmt.Errorf("task id %q, want %q: %w", fe.TaskID, e.task, err)
				}
				return err
			},
		},
		{
			name: "task without a uuid", kind: flamenco.KindBadTask, status: 200, inMessage: "field uuid: want a JSON string, got null",
			fault: &managertest.Fault{Op: managertest.OpScheduleTask, RewriteAnswer: managertest.SetField("uuid", nil)},
			call: func(ctx context.Context, e env) error {
				_, err := e.c.ScheduleTask(ctx)
				if fe := (*flamenco.Error)(nil); errors.As(err, &fe) && fe.TaskID != "" {
					return fmt.Errorf("task id %q, want none: %w", fe.TaskID, err)
				}
				return err
			},
		},
		{
			name: "connection reset", kind: flamenco.KindNetwork, retryable: true, inMessage: "no answer from the Manager",
			fault: &managertest.Fault{Reset: true},
			call: func(ctx context.Context, e env) error {
				_, err := e.c.MayIRun(ctx, e.task)
				return err
			},
		},
		{
			name: "slower than the timeout", kind: flamenco.KindNetwork, retryable: true, timeout: 100 * time.Millisecond, inMessage: "no answer within 100ms",
			fault: &managertest.Fault{Delay: time.Hour},
			call: func(ctx context.Context, e env) error {
				err := e.c.UpdateTask(ctx, e.task, flamenco.TaskUpdate{Log: "x"})
				if !errors.Is(err, context.DeadlineExceeded) {
					return errors.New("not a deadline: " + err.Error())
				}
				return err
			},
		},
		{
			name: "caller gives up", kind: flamenco.KindCanceled, fault: &managertest.Fault{Delay: time.Hour},
			call: func(ctx context.Context, e env) error {
				ctx, cancel := context.WithCancel(ctx)
				// Whether the cancel comes before or after the request reached
				// the Manager, the caller gave up: KindCanceled either way.
				time.AfterFunc(50*time.Millisecond, cancel)
				_, err := e.c.ScheduleTask(ctx)
				if !errors.Is(err, context.Canceled) {
					return errors.New("not a cancellation: " + err.Error())
				}
				return err
			},
		},
		{
			name: "manager down", kind: flamenco.KindNetwork, retryable: true, inMessage: "connection refused",
			fault: &managertest.Fault{Down: true},
			call: func(ctx context.Context, e env) error {
				// The first request may still go out on the kept-alive
				// connection that the Manager closed; the next one must dial.
				if _, err := e.c.ScheduleTask(ctx); flamenco.KindOf(err) != flamenco.KindNetwork {
					return err
				}
				_, err := e.c.ScheduleTask(ctx)
				if runtime.GOOS != "windows" && !errors.Is(err, syscall.ECONNREFUSED) {
					return errors.New("not connection refused: " + err.Error())
				}
				return err
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			m := managertest.New(t, managertest.Config{})
			c := awake(t, m)
			job := m.AddJob(echoJob())
			if _, err := c.ScheduleTask(ctx); err != nil {
				t.Fatal(err)
			}
			if tc.timeout != 0 {
				c2, err := flamenco.New(flamenco.Config{BaseURL: m.URL(), WorkerID: c.WorkerID(), Secret: "pw", Timeout: tc.timeout})
				if err != nil {
					t.Fatal(err)
				}
				c = c2
			}
			if tc.fault != nil {
				if err := m.SetFault(*tc.fault); err != nil {
					t.Fatal(err)
				}
			}
			err := tc.call(ctx, env{m: m, c: c, task: job.Tasks[0].ID})
			var fe *flamenco.Error
			if !errors.As(err, &fe) {
				t.Fatalf("error %v (%T), want a *flamenco.Error", err, err)
			}
			if fe.Kind != tc.kind || fe.StatusCode != tc.status {
				t.Fatalf("kind %v status %d, want %v %d: %v", fe.Kind, fe.StatusCode, tc.kind, tc.status, err)
			}
			if flamenco.KindOf(err) != tc.kind || flamenco.Retryable(err) != tc.retryable {
				t.Fatalf("KindOf %v Retryable %v, want %v %v", flamenco.KindOf(err), flamenco.Retryable(err), tc.kind, tc.retryable)
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.HasPrefix(msg, "flamenco: "+fe.Op) || !strings.Contains(msg, m.URL()) || !strings.Contains(msg, tc.inMessage) {
				t.Fatalf("message %q: want the op, the Manager's URL and %q", msg, tc.inMessage)
			}
			if err := m.ClearFaults(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	m := managertest.New(t, managertest.Config{})
	c, err := flamenco.New(flamenco.Config{BaseURL: m.URL(), WorkerID: "nobody", Secret: "x"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.SignOn(context.Background(), flamenco.WorkerSignOn{Name: "w", SupportedTaskTypes: []string{"misc"}, SoftwareVersion: "1"})
	want := `flamenco: sign-on to ` + m.URL() + `: 403 Forbidden: "unknown worker or wrong secret" (credentials rejected: the Manager does not know this worker id and secret; the worker must register again)`
	if err == nil || err.Error() != want {
		t.Fatalf("message\n got %v\nwant %s", err, want)
	}
}

func TestOwnHTTPClient(t *testing.T) {
	m := managertest.New(t, managertest.Config{})
	hc := &http.Client{Transport: &http.Transport{}}
	c, err := flamenco.New(flamenco.Config{BaseURL: m.URL() + "/", HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Version(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestKindHelpers(t *testing.T) {
	if flamenco.KindOf(nil) != flamenco.KindUnknown || flamenco.KindOf(errors.New("x")) != flamenco.KindUnknown || flamenco.Retryable(nil) {
		t.Fatal("helpers on foreign errors")
	}
	wrapped := errors.Join(errors.New("context"), &flamenco.Error{Op: "x", Kind: flamenco.KindServer, RetryAfter: time.Second})
	if flamenco.KindOf(wrapped) != flamenco.KindServer || !flamenco.Retryable(wrapped) || flamenco.RetryAfterOf(wrapped) != time.Second {
		t.Fatal("helpers do not see through wrapping")
	}
	if _, ok := flamenco.RequestedStatus(wrapped); ok {
		t.Fatal("RequestedStatus on a non-423 error")
	}
	for k := flamenco.KindUnknown; k <= flamenco.KindBadTask; k++ {
		if s := k.String(); s == "" || strings.HasPrefix(s, "kind(") {
			t.Errorf("kind %d has no name", k)
		}
	}
}

// BenchmarkMayIRun measures one small authenticated round trip over a
// kept-alive loopback connection (the worker's most frequent request).
func BenchmarkMayIRun(b *testing.B) {
	ctx := context.Background()
	m, err := managertest.Start(managertest.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	id := m.AddWorker("bench", "pw", "misc")
	c, err := flamenco.New(flamenco.Config{BaseURL: m.URL(), WorkerID: id, Secret: "pw"})
	if err != nil {
		b.Fatal(err)
	}
	job := m.AddJob(echoJob())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.MayIRun(ctx, job.Tasks[0].ID); err != nil {
			b.Fatal(err)
		}
	}
	if n := m.Connections(); n != 1 {
		b.Fatalf("%d connections, want 1", n)
	}
}

// TestRedirectPolicy checks that a redirect to another port is never
// followed (neither the credentials nor a registration's secret may reach
// it), and that a 307 or 308 within the Manager's own address is, with the
// method and body kept.
func TestRedirectPolicy(t *testing.T) {
	var elsewhere []string
	var mu sync.Mutex
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		elsewhere = append(elsewhere, fmt.Sprintf("%s %s auth=%q body=%q", r.Method, r.URL.Path, r.Header.Get("Authorization"), body))
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(other.Close)
	ctx := context.Background()
	for _, code := range []int{301, 302, 303, 307, 308} {
		for _, own := range []bool{false, true} {
			t.Run(fmt.Sprintf("%d/own HTTP client=%v", code, own), func(t *testing.T) {
				mu.Lock()
				elsewhere = nil
				mu.Unlock()
				m := managertest.New(t, managertest.Config{})
				c := awake(t, m)
				if own {
					// A caller's client that follows everything: its policy is replaced.
					hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}
					c2, err := flamenco.New(flamenco.Config{BaseURL: m.URL(), WorkerID: c.WorkerID(), Secret: "pw", HTTPClient: hc})
					if err != nil {
						t.Fatal(err)
					}
					c = c2
				}
				job := m.AddJob(echoJob())
				if _, err := c.ScheduleTask(ctx); err != nil {
					t.Fatal(err)
				}
				task := job.Tasks[0].ID
				for _, op := range []string{managertest.OpRegister, managertest.OpSignOn, managertest.OpTaskUpdate} {
					if err := m.SetFault(managertest.Fault{Op: op, Redirect: code, RedirectTo: other.URL, Count: 1}); err != nil {
						t.Fatal(err)
					}
				}
				_, errRegister := c.Register(ctx, flamenco.WorkerRegistration{Name: "w2", Secret: "the-new-secret", Platform: "linux"})
				_, errSignOn := c.SignOn(ctx, flamenco.WorkerSignOn{Name: "w1", SupportedTaskTypes: []string{"misc"}, SoftwareVersion: "1"})
				errUpdate := c.UpdateTask(ctx, task, flamenco.TaskUpdate{Log: "to the Manager only"})
				for _, err := range []error{errRegister, errSignOn, errUpdate} {
					if flamenco.KindOf(err) != flamenco.KindRedirect || !flamenco.Retryable(err) || !strings.Contains(err.Error(), "redirected to "+other.URL) {
						t.Errorf("error %v, want a retryable redirect error naming %s", err, other.URL)
					}
				}
				mu.Lock()
				defer mu.Unlock()
				if len(elsewhere) > 0 {
					t.Fatalf("the other address got %q", elsewhere)
				}
			})
		}
	}
	for _, code := range []int{307, 308} {
		t.Run(fmt.Sprintf("%d within the Manager", code), func(t *testing.T) {
			m := managertest.New(t, managertest.Config{})
			c := awake(t, m)
			job := m.AddJob(echoJob())
			if _, err := c.ScheduleTask(ctx); err != nil {
				t.Fatal(err)
			}
			task := job.Tasks[0].ID
			if err := m.SetFault(managertest.Fault{Op: managertest.OpTaskUpdate, Redirect: code, Count: 1}); err != nil {
				t.Fatal(err)
			}
			if err := c.UpdateTask(ctx, task, flamenco.TaskUpdate{Log: "followed"}); err != nil {
				t.Fatal(err)
			}
			if ts, _ := m.Task(task); ts.Log != "followed\n" {
				t.Errorf("log %q, want the redirected update to have landed", ts.Log)
			}
		})
	}
}

// TestLogIsNotHTMLEscaped checks that '<', '>' and '&' of a log go out as
// they are, not six times their size.
func TestLogIsNotHTMLEscaped(t *testing.T) {
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ = io.ReadAll(r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	c, err := flamenco.New(flamenco.Config{BaseURL: srv.URL, WorkerID: "w", Secret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.UpdateTask(context.Background(), "t", flamenco.TaskUpdate{Log: "<module> a && b"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), `"log":"<module> a && b"`) {
		t.Errorf("body %s, want the log unescaped", body)
	}
}
