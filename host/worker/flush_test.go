package worker_test

import (
	"context"
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/host/flamenco"
	"github.com/cajonfarm/cajon/host/updates"
	"github.com/cajonfarm/cajon/host/worker"
	"github.com/cajonfarm/cajon/internal/managertest"
)

func TestFlush(t *testing.T) {
	mgr := managertest.New(t, managertest.Config{})
	job := mgr.AddJob(managertest.Job{Tasks: []managertest.Task{echoTask("t", "x")}})
	id := job.Tasks[0].ID
	cfg := testConfig(t, mgr)
	ctx := context.Background()

	// Nothing queued: nothing to do, even without credentials.
	if n, err := worker.Flush(ctx, cfg, nil, nil); n != 0 || err != nil {
		t.Fatalf("empty queue: %d, %v", n, err)
	}

	q, err := updates.Open(ctx, updates.Options{Path: worker.QueuePath(cfg.StateDir)})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []updates.Update{
		{TaskID: id, Status: "active", Activity: "starting"},
		{TaskID: id, Log: "queued while the Manager was away"},
		{TaskID: id, Status: "completed"},
	} {
		if err := q.Append(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	q.Close()
	if _, err := worker.Flush(ctx, cfg, nil, nil); err == nil || !strings.Contains(err.Error(), "3 task updates are queued") {
		t.Fatalf("flush without credentials: %v, want an error that says what is queued", err)
	}

	// Make the task this worker's, as a worker that crashed would have it.
	secret := "a-secret"
	wid := mgr.AddWorker("flusher", secret, "misc")
	if err := worker.SaveCredentials(worker.CredentialsPath(cfg.StateDir), worker.Credentials{WorkerID: wid, Secret: secret}); err != nil {
		t.Fatal(err)
	}
	c, err := flamenco.New(flamenco.Config{BaseURL: mgr.URL(), WorkerID: wid, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SignOn(ctx, flamenco.WorkerSignOn{Name: "flusher", SupportedTaskTypes: []string{"misc"}, SoftwareVersion: "test"}); err != nil {
		t.Fatal(err)
	}
	if err := c.StateChanged(ctx, flamenco.WorkerAwake); err != nil {
		t.Fatal(err)
	}
	if at, err := c.ScheduleTask(ctx); err != nil || at == nil || at.UUID != id {
		t.Fatalf("schedule: %+v, %v", at, err)
	}
	if err := mgr.SetFault(managertest.Fault{Op: managertest.OpTaskUpdate, Status: 503, Count: 2}); err != nil {
		t.Fatal(err)
	}

	n, err := worker.Flush(ctx, cfg, nil, nil)
	if err != nil || n != 3 {
		t.Fatalf("Flush = %d, %v; want 3 delivered", n, err)
	}
	ts := mgr.MustTask(t, id)
	checkReported(t, ts, managertest.StatusCompleted)
	if !strings.Contains(ts.Log, "queued while the Manager was away") {
		t.Errorf("log %q", ts.Log)
	}
	mgr.CheckProtocol(t)
}
