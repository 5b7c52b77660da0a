package worker

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/config"
	"github.com/cajonfarm/cajon/host/plugins"
	"github.com/cajonfarm/cajon/host/task"
	"github.com/cajonfarm/cajon/internal/managertest"
	"github.com/cajonfarm/cajon/internal/testbin"
	"github.com/hashicorp/go-hclog"
)

// binDir holds the plugins built once for the whole test binary.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cajon-worker-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := testbin.Build(dir, "exec", "testkit"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// fastTimings make the lifecycle quick enough for tests.
var fastTimings = Timings{
	FetchBackoffMin:   20 * time.Millisecond,
	RetryMin:          20 * time.Millisecond,
	RetryMax:          200 * time.Millisecond,
	LogBatch:          50 * time.Millisecond,
	UpdatesMinBackoff: 20 * time.Millisecond,
	UpdatesMaxBackoff: 200 * time.Millisecond,
	ShutdownDelivery:  5 * time.Second,
	SignOffTimeout:    2 * time.Second,
	PreviewBackoffMax: 200 * time.Millisecond,
}

// testConfig is a config for a worker of mgr with short intervals.
func testConfig(t testing.TB, mgr *managertest.Manager) *config.Config {
	cfg := config.Defaults()
	cfg.StateDir = t.TempDir()
	cfg.Manager.URL = mgr.URL()
	cfg.Manager.WorkerName = "test-worker"
	cfg.Manager.MayIRunInterval = 100 * time.Millisecond
	cfg.Manager.AsleepPollInterval = 100 * time.Millisecond
	cfg.Manager.FetchBackoffMax = 200 * time.Millisecond
	cfg.Manager.RequestTimeout = 5 * time.Second
	cfg.KillGrace = 2 * time.Second
	return &cfg
}

// syncBuffer collects the worker's log across goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// openPlugins starts the test plugins for one test.
func openPlugins(t testing.TB) *plugins.Registry {
	t.Helper()
	reg, err := plugins.Open(context.Background(), plugins.Options{Dirs: []string{filepath.Join(binDir, "plugins")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	return reg
}

// running is a worker running in the background of a test.
type running struct {
	t      testing.TB
	mgr    *managertest.Manager
	cfg    *config.Config
	w      *Worker
	log    *syncBuffer
	cancel context.CancelFunc
	done   chan struct{}
	code   int
	err    error
}

// startWorker runs a worker of mgr with cfg and fastTimings until the test ends.
func startWorker(t testing.TB, mgr *managertest.Manager, cfg *config.Config, reg *plugins.Registry) *running {
	t.Helper()
	return startWorkerTimings(t, mgr, cfg, reg, fastTimings)
}

// startWorkerTimings runs a worker of mgr with cfg and tm until the test ends.
func startWorkerTimings(t testing.TB, mgr *managertest.Manager, cfg *config.Config, reg *plugins.Registry, tm Timings) *running {
	t.Helper()
	logBuf := &syncBuffer{}
	logger := hclog.New(&hclog.LoggerOptions{Name: "worker", Level: hclog.Debug, Output: logBuf})
	w, err := New(Options{
		Config:  cfg,
		Runner:  &task.Runner{Commands: reg, Grace: cfg.KillGrace},
		Plugins: reg,
		Logger:  logger,
		Timings: tm,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{t: t, mgr: mgr, cfg: cfg, w: w, log: logBuf, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.code, r.err = w.Run(ctx)
	}()
	t.Cleanup(func() {
		r.stop()
		if t.Failed() {
			t.Logf("worker log:\n%s", logBuf.String())
		}
	})
	return r
}

// stop shuts the worker down like SIGTERM and returns Run's exit code.
func (r *running) stop() int {
	r.t.Helper()
	r.cancel()
	return r.wait()
}

// wait waits for Run to return and returns its exit code.
func (r *running) wait() int {
	r.t.Helper()
	select {
	case <-r.done:
	case <-time.After(60 * time.Second):
		r.t.Fatalf("the worker did not stop within 60 s; log:\n%s", r.log.String())
	}
	if r.err != nil {
		r.t.Fatalf("Run: %v", r.err)
	}
	return r.code
}

// exited reports whether Run has returned.
func (r *running) exited() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// waitFor waits until cond holds, failing the test after 30 s. It polls:
// some conditions depend on the worker's own state, which does not wake the
// Manager's WaitFor.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: not reached within 30 s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// onlyWorker returns the one worker registered with mgr.
func onlyWorker(t testing.TB, mgr *managertest.Manager) managertest.WorkerState {
	t.Helper()
	ws := mgr.Workers()
	if len(ws) != 1 {
		t.Fatalf("the Manager has %d workers, want 1: %+v", len(ws), ws)
	}
	return ws[0]
}

// taskState returns a task's snapshot.
func taskState(t testing.TB, mgr *managertest.Manager, id string) managertest.TaskState {
	t.Helper()
	ts, ok := mgr.Task(id)
	if !ok {
		t.Fatalf("no task %s", id)
	}
	return ts
}

// statuses lists the task statuses a task's accepted updates carried, in order.
func statuses(ts managertest.TaskState) []string {
	var out []string
	for _, u := range ts.Updates {
		if u.TaskStatus != nil {
			out = append(out, *u.TaskStatus)
		}
	}
	return out
}

// checkReported checks the updates of a task that ran once to its end: an
// `active` first, then exactly one final status, last.
func checkReported(t testing.TB, ts managertest.TaskState, final string) {
	t.Helper()
	if len(ts.Updates) == 0 {
		t.Fatalf("task %s (%s): no updates", ts.Name, ts.ID)
	}
	first := ts.Updates[0]
	if first.TaskStatus == nil || *first.TaskStatus != managertest.StatusActive {
		t.Errorf("task %s: first update %+v, want taskStatus active", ts.Name, first)
	}
	got := statuses(ts)
	if want := []string{managertest.StatusActive, final}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("task %s: statuses %v, want %v", ts.Name, got, want)
	}
	if last := ts.Updates[len(ts.Updates)-1]; last.TaskStatus == nil || *last.TaskStatus != final {
		t.Errorf("task %s: the last update is not the final status %q: %+v", ts.Name, final, last)
	}
}

// noProtocolErrors fails when the worker sent anything the Manager rejected as malformed.
func noProtocolErrors(t testing.TB, mgr *managertest.Manager) {
	t.Helper()
	if errs := mgr.ProtocolErrors(); len(errs) > 0 {
		t.Errorf("protocol errors: %q", errs)
	}
}

// countRequests counts the Manager's requests of op (for a task, when taskID is set).
func countRequests(mgr *managertest.Manager, op, taskID string) int {
	n := 0
	for _, r := range mgr.Requests() {
		if r.Op == op && (taskID == "" || r.TaskID == taskID) {
			n++
		}
	}
	return n
}

// shellTask is a task that runs an sh script through the testkit plugin.
func shellTask(name, script string) managertest.Task {
	return managertest.Task{Name: name, Type: "test", Commands: []managertest.Command{
		{Name: "test-tree", Parameters: map[string]any{"script": script}},
	}}
}

// sleepTask is a task of the exec plugin's sleep command.
func sleepTask(name string, seconds float64) managertest.Task {
	return managertest.Task{Name: name, Type: "misc", Commands: []managertest.Command{
		{Name: "sleep", Parameters: map[string]any{"duration_in_seconds": seconds}},
	}}
}

// echoTask is a task of the exec plugin's echo command.
func echoTask(name, message string) managertest.Task {
	return managertest.Task{Name: name, Type: "misc", Commands: []managertest.Command{
		{Name: "echo", Parameters: map[string]any{"message": message}},
	}}
}
