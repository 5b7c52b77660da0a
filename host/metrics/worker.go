package metrics

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/cajonfarm/cajon/host/flamenco"
	"github.com/cajonfarm/cajon/host/task"
	"github.com/prometheus/client_golang/prometheus"
)

// Worker holds the metrics of one worker identity (or of the local queue):
// its tasks, its Manager requests and its update queue. *Worker is a
// worker.Observer. Create it with Metrics.Worker.
type Worker struct {
	m       *Metrics
	name    string
	started time.Time

	logProduced prometheus.Counter
	logSent     prometheus.Counter

	// Unix nanoseconds; 0 = never.
	lastAnswer  atomic.Int64
	queueOldest atomic.Int64
	queueDepth  atomic.Int64
	hasQueue    atomic.Bool
}

// Worker returns the metrics of the worker named name (the label "worker"
// of its series); "local" names the local queue by convention.
func (m *Metrics) Worker(name string) *Worker {
	w := &Worker{
		m: m, name: name, started: m.now(),
		logProduced: m.logProduced.WithLabelValues(name),
		logSent:     m.logSent.WithLabelValues(name),
	}
	m.mu.Lock()
	m.workers = append(m.workers, w)
	m.mu.Unlock()
	return w
}

// ManagerRequest implements flamenco.Observer. A request the caller
// cancelled (shutdown) is no fault of the Manager and not counted as an
// error; an answer below 500 counts as the Manager answering.
func (w *Worker) ManagerRequest(op string, status int, err error) {
	w.m.managerRequests.WithLabelValues(w.name, op).Inc()
	if status != 0 && status < 500 {
		w.lastAnswer.Store(w.m.now().UnixNano())
	}
	if err == nil {
		return
	}
	code := strconv.Itoa(status)
	if status == 0 {
		kind := flamenco.KindOf(err)
		if kind == flamenco.KindCanceled {
			return
		}
		code = kind.String()
	}
	w.m.managerErrors.WithLabelValues(w.name, op, code).Inc()
}

// QueueChanged implements updates.Observer.
func (w *Worker) QueueChanged(pending int, oldest time.Time) {
	w.hasQueue.Store(true)
	w.queueDepth.Store(int64(pending))
	if oldest.IsZero() {
		w.queueOldest.Store(0)
	} else {
		w.queueOldest.Store(oldest.UnixNano())
	}
}

// UpdateDelivered implements updates.Observer.
func (w *Worker) UpdateDelivered(logBytes int) { w.logSent.Add(float64(logBytes)) }

// StreamEvent implements managerevents.Observer.
func (w *Worker) StreamEvent(name string) {
	w.m.streamEvents.WithLabelValues(w.name, eventLabel(name)).Inc()
}

// eventLabel bounds the label values to the Manager's event names: a
// hostile or broken Manager must not grow the series without end.
func eventLabel(name string) string {
	switch name {
	case "/jobs", "/task", "/status", "/lifecycle", "/workers", "/workertags", "/last-rendered", "/tasklog":
		return name
	}
	return "other"
}

// StreamConnected implements managerevents.Observer.
func (w *Worker) StreamConnected(reconnect bool) {
	kind := "first"
	if reconnect {
		kind = "reconnect"
	}
	w.m.streamConnects.WithLabelValues(w.name, kind).Inc()
}

// TaskPickedUp implements worker.Observer.
func (w *Worker) TaskPickedUp(source string) { w.m.pickups.WithLabelValues(w.name, source).Inc() }

// TaskAborted implements worker.Observer.
func (w *Worker) TaskAborted(source string) { w.m.managerAborts.WithLabelValues(w.name, source).Inc() }

// Tasks wraps r so that every task it runs is counted and timed by type and
// outcome, and the log its commands produce is counted.
func (w *Worker) Tasks(r task.Executor) task.Executor { return observedRunner{next: r, w: w} }

type observedRunner struct {
	next task.Executor
	w    *Worker
}

func (o observedRunner) Run(ctx context.Context, t task.Task, rep task.Reporter) task.Outcome {
	start := o.w.m.now()
	out := o.next.Run(ctx, t, countingReporter{Reporter: rep, produced: o.w.logProduced})
	outcome := out.Status.String()
	o.w.m.tasks.WithLabelValues(o.w.name, t.Type, outcome).Inc()
	o.w.m.taskSeconds.WithLabelValues(o.w.name, t.Type, outcome).Observe(o.w.m.now().Sub(start).Seconds())
	return out
}

// countingReporter counts the log bytes on their way to the real reporter.
type countingReporter struct {
	task.Reporter
	produced prometheus.Counter
}

func (c countingReporter) Log(lines []string) {
	n := 0
	for _, l := range lines {
		n += len(l) + 1
	}
	c.produced.Add(float64(n))
	c.Reporter.Log(lines)
}

// ManagerCheck is the /healthz check that the Manager answered this worker
// within maxAge (any answer below 500).
func (w *Worker) ManagerCheck(maxAge time.Duration) Check {
	return Check{
		Name: "Manager answers worker " + w.name,
		Run: func(context.Context) error {
			now := w.m.now()
			last := w.lastAnswer.Load()
			if last == 0 {
				if since := now.Sub(w.started); since > maxAge {
					return fmt.Errorf("no answer from the Manager since the worker started %s ago (limit %s)", round(since), maxAge)
				}
				return fmt.Errorf("no answer from the Manager yet (the worker started %s ago)", round(now.Sub(w.started)))
			}
			if age := now.Sub(time.Unix(0, last)); age > maxAge {
				return fmt.Errorf("the Manager last answered %s ago (limit %s, metrics.manager_answer_max_age)", round(age), maxAge)
			}
			return nil
		},
	}
}

func round(d time.Duration) time.Duration { return d.Round(100 * time.Millisecond) }

// workerGauges reports each worker's update queue and last Manager answer,
// computed when scraped: an age keeps growing without anyone calling.
type workerGauges struct {
	m                           *Metrics
	depth, oldest, lastAnswered *prometheus.Desc
}

func newWorkerGauges(m *Metrics) workerGauges {
	return workerGauges{
		m: m,
		depth: prometheus.NewDesc("cajon_update_queue_depth",
			"Task updates queued, not yet delivered to the Manager.", []string{"worker"}, nil),
		oldest: prometheus.NewDesc("cajon_update_queue_oldest_age_seconds",
			"Age of the oldest queued task update; 0 when none is queued. Updates found queued at start count from the start.",
			[]string{"worker"}, nil),
		lastAnswered: prometheus.NewDesc("cajon_manager_last_answer_timestamp_seconds",
			"When the Manager last answered (any status below 500), as a Unix time.", []string{"worker"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (g workerGauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- g.depth
	ch <- g.oldest
	ch <- g.lastAnswered
}

// Collect implements prometheus.Collector.
func (g workerGauges) Collect(ch chan<- prometheus.Metric) {
	g.m.mu.Lock()
	workers := append([]*Worker(nil), g.m.workers...)
	g.m.mu.Unlock()
	now := g.m.now()
	for _, w := range workers {
		if w.hasQueue.Load() {
			ch <- prometheus.MustNewConstMetric(g.depth, prometheus.GaugeValue, float64(w.queueDepth.Load()), w.name)
			age := 0.0
			if at := w.queueOldest.Load(); at != 0 {
				age = max(0, now.Sub(time.Unix(0, at)).Seconds())
			}
			ch <- prometheus.MustNewConstMetric(g.oldest, prometheus.GaugeValue, age, w.name)
		}
		if at := w.lastAnswer.Load(); at != 0 {
			ch <- prometheus.MustNewConstMetric(g.lastAnswered, prometheus.GaugeValue, float64(at)/1e9, w.name)
		}
	}
}
