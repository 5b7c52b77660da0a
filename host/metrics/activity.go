package metrics

import "github.com/prometheus/client_golang/prometheus"

// activities are the values of cajon_worker_activity's activity label, as
// host/worker names them.
func activities() []string { return []string{"busy", "idle", "workstation_in_use"} }

// WatchActivity makes /metrics show what the worker does, read from
// activity at each scrape: cajon_worker_activity is 1 for the current one
// (busy, idle, or workstation_in_use while a person uses the machine and the
// worker takes no task) and 0 for the others. Call it once per worker.
func (w *Worker) WatchActivity(activity func() string) {
	for _, a := range activities() {
		w.m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "cajon_worker_activity",
			Help: "What the worker does: 1 for its current activity (busy: a task runs; idle: no task runs; " +
				"workstation_in_use: a person uses the machine, so the worker takes no task), 0 for the others.",
			ConstLabels: prometheus.Labels{"worker": w.name, "activity": a},
		}, func() float64 {
			if activity() == a {
				return 1
			}
			return 0
		}))
	}
}
