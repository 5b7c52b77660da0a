package worker_test

import (
	"slices"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/config"
	"github.com/cajonfarm/cajon/host/metrics"
	"github.com/cajonfarm/cajon/host/task"
	"github.com/cajonfarm/cajon/host/worker"
	"github.com/cajonfarm/cajon/internal/managertest"
	"github.com/cajonfarm/cajon/internal/workertest"
	dto "github.com/prometheus/client_model/go"
)

// never is a poll period no test outlasts: what happens in time came from
// the event stream.
const never = time.Hour

// observed runs a worker of cfg with metrics and returns them.
func observed(t *testing.T, cfg *config.Config, tm worker.Timings) (*workertest.Worker, *metrics.Metrics) {
	t.Helper()
	reg := openPlugins(t)
	m := metrics.New()
	r := workertest.StartOptions(t, worker.Options{
		Config: cfg, Runner: &task.Runner{Commands: reg, Grace: cfg.KillGrace}, Plugins: reg,
		Timings: tm, Observer: m.Worker("w"),
	}, nil)
	return r, m
}

// counter reads one counter of m, 0 when it has no such series.
func counter(t *testing.T, m *metrics.Metrics, name string, labels map[string]string) float64 {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	series:
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if v, ok := labels[l.GetName()]; ok && v != l.GetValue() {
					continue series
				}
			}
			return value(s)
		}
	}
	return 0
}

func value(s *dto.Metric) float64 {
	if c := s.GetCounter(); c != nil {
		return c.GetValue()
	}
	return 0
}

// streamUp reports whether the worker's event stream is subscribed.
func streamUp(mgr *managertest.Manager) func() bool {
	return func() bool { return mgr.StreamSubscribers() == 1 }
}

// TestStreamPicksUpAtOnce: with the stream up, an idle worker whose next
// poll is a minute away takes a queued job at once, and says it came from
// the stream.
func TestStreamPicksUpAtOnce(t *testing.T) {
	mgr := managertest.New(t, managertest.Config{})
	cfg := testConfig(t, mgr)
	cfg.Manager.EventFetchBackoffMax = never
	tm := workertest.FastTimings()
	tm.FetchBackoffMin = time.Minute
	_, m := observed(t, cfg, tm)
	waitFor(t, "the stream to be up", streamUp(mgr))
	waitFor(t, "an empty fetch", func() bool { return mgr.RequestCount(managertest.OpScheduleTask, "") >= 1 })
	// The stream came up before or after that fetch; its hint may have
	// brought one more fetch forward. Then the worker waits a minute.
	waitFor(t, "the worker to wait", func() bool {
		n := mgr.RequestCount(managertest.OpScheduleTask, "")
		return n >= 1 && counter(t, m, "cajon_manager_event_stream_connects_total", nil) == 1
	})
	id := oneJob(mgr, echoTask("e", "from the stream"))
	waitTask(t, mgr, id, managertest.StatusCompleted)
	if got := counter(t, m, "cajon_task_pickups_total", map[string]string{"source": worker.SourceStream}); got != 1 {
		t.Errorf("pickups from the stream: %v, want 1", got)
	}
	if got := counter(t, m, "cajon_manager_events_total", map[string]string{"event": "/jobs"}); got < 1 {
		t.Errorf("/jobs events counted: %v", got)
	}
	mgr.CheckProtocol(t)
}

// TestStreamAbortsAtOnce: with the stream up, a cancelled job's task is
// aborted at once although may-i-run is an hour away, and the abort is
// counted as the stream's.
func TestStreamAbortsAtOnce(t *testing.T) {
	mgr := managertest.New(t, managertest.Config{})
	cfg := testConfig(t, mgr)
	cfg.Manager.EventMayIRunInterval = never
	r, m := observed(t, cfg, workertest.FastTimings())
	waitFor(t, "the stream to be up", streamUp(mgr))
	id := oneJob(mgr, sleepTask("long", 600))
	waitFor(t, "the task to run", func() bool { return r.Status().TaskID == id })
	// The confirmed subscription to the task's job asks once: what
	// happened between the fetch and the subscription came by no event.
	waitFor(t, "the may-i-run of the confirmed subscription", func() bool { return mgr.RequestCount(managertest.OpMayIRun, id) == 1 })
	ts, _ := mgr.Task(id)
	if err := mgr.CancelJob(ts.JobID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the task to be aborted", func() bool { return r.Status().TaskID == "" })
	if got := counter(t, m, "cajon_manager_aborts_total", map[string]string{"source": worker.SourceStream}); got != 1 {
		t.Errorf("aborts from the stream: %v, want 1", got)
	}
	if n := mgr.RequestCount(managertest.OpMayIRun, id); n != 2 {
		t.Errorf("may-i-run asked %d times, want twice (the subscription's, then the cancel's, both brought by the stream)", n)
	}
}

// TestStreamFaultsKeepPollingSpeed: whatever is wrong with the stream, the
// worker picks up and aborts at its stream-less polling speed, although
// the stream-up periods are an hour.
func TestStreamFaultsKeepPollingSpeed(t *testing.T) {
	for _, tt := range []struct {
		name  string
		fault managertest.StreamFault
	}{
		{"refused", managertest.StreamRefused},
		{"proxy without websockets", managertest.StreamNoUpgrade},
		{"garbage", managertest.StreamGarbage},
		{"silent", managertest.StreamSilent},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mgr := managertest.New(t, managertest.Config{})
			mgr.SetStreamFault(tt.fault)
			cfg := testConfig(t, mgr)
			cfg.Manager.EventMayIRunInterval, cfg.Manager.EventFetchBackoffMax = never, never
			r, _ := observed(t, cfg, workertest.FastTimings())
			waitFor(t, "stream connection attempts", func() bool { return mgr.StreamAttempts() >= 2 })
			done := oneJob(mgr, echoTask("e", "polled"))
			waitTask(t, mgr, done, managertest.StatusCompleted)
			id := oneJob(mgr, sleepTask("long", 600))
			waitFor(t, "the task to run", func() bool { return r.Status().TaskID == id })
			if err := mgr.CancelTask(id); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the task to be aborted by the poll", func() bool { return r.Status().TaskID == "" })
			mgr.CheckProtocol(t)
		})
	}
}

// TestStreamAfterManagerRestart: the Manager goes down while a task runs
// and comes back; the stream reconnects, and a cancel after the restart
// still aborts at once.
func TestStreamAfterManagerRestart(t *testing.T) {
	mgr := managertest.New(t, managertest.Config{})
	cfg := testConfig(t, mgr)
	cfg.Manager.EventMayIRunInterval = never
	r, m := observed(t, cfg, workertest.FastTimings())
	waitFor(t, "the stream to be up", streamUp(mgr))
	id := oneJob(mgr, sleepTask("long", 600))
	waitFor(t, "the task to run", func() bool { return r.Status().TaskID == id })
	ts, _ := mgr.Task(id)
	waitFor(t, "the job's room subscribed", func() bool {
		return slices.Contains(mgr.StreamSubscriptions(), "job subscribe "+ts.JobID)
	})
	mgr.MustTakeDown(t)
	waitFor(t, "the stream to drop", func() bool { return mgr.StreamClients() == 0 })
	if err := mgr.ClearFaults(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the stream to reconnect", func() bool {
		return counter(t, m, "cajon_manager_event_stream_connects_total", map[string]string{"kind": "reconnect"}) >= 1 &&
			mgr.StreamSubscribers() == 1
	})
	waitFor(t, "the job's room subscribed again", func() bool {
		n := 0
		for _, s := range mgr.StreamSubscriptions() {
			if s == "job subscribe "+ts.JobID {
				n++
			}
		}
		return n >= 2
	})
	if err := mgr.CancelJob(ts.JobID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the task to be aborted", func() bool { return r.Status().TaskID == "" })
	if got := counter(t, m, "cajon_manager_aborts_total", map[string]string{"source": worker.SourceStream}); got != 1 {
		t.Errorf("aborts from the stream: %v, want 1", got)
	}
}

// oneJob queues a job of one task and returns the task's id.
func oneJob(mgr *managertest.Manager, tk managertest.Task) string {
	return mgr.AddJob(managertest.Job{Tasks: []managertest.Task{tk}}).Tasks[0].ID
}

// waitTask waits until the task has the status want.
func waitTask(t *testing.T, mgr *managertest.Manager, id, want string) {
	t.Helper()
	waitFor(t, "task "+id+" to be "+want, func() bool {
		ts, ok := mgr.Task(id)
		return ok && ts.Status == want
	})
}
