package metrics_test

import (
	"maps"
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/host/metrics"
)

// TestEventStreamSeries: the event stream's observer calls land in their
// series, and event names the Manager does not send share one "other"
// series, so a hostile Manager cannot grow the series without end.
func TestEventStreamSeries(t *testing.T) {
	m := metrics.New()
	w := m.Worker("node-1")
	for _, name := range []string{"/jobs", "/jobs", "/task", "/workers", "/made-up-1", "/made-up-2"} {
		w.StreamEvent(name)
	}
	w.StreamConnected(false)
	w.StreamConnected(true)
	w.StreamConnected(true)
	w.TaskPickedUp("stream")
	w.TaskPickedUp("poll")
	w.TaskPickedUp("stream")
	w.TaskAborted("stream")

	want := map[string]float64{
		`cajon_manager_events_total{event="/jobs",worker="node-1"}`:                   2,
		`cajon_manager_events_total{event="/task",worker="node-1"}`:                   1,
		`cajon_manager_events_total{event="/workers",worker="node-1"}`:                1,
		`cajon_manager_events_total{event="other",worker="node-1"}`:                   2,
		`cajon_manager_event_stream_connects_total{kind="first",worker="node-1"}`:     1,
		`cajon_manager_event_stream_connects_total{kind="reconnect",worker="node-1"}`: 2,
		`cajon_task_pickups_total{source="poll",worker="node-1"}`:                     1,
		`cajon_task_pickups_total{source="stream",worker="node-1"}`:                   2,
		`cajon_manager_aborts_total{source="stream",worker="node-1"}`:                 1,
	}
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		if !strings.Contains(f.GetName(), "event") && !strings.Contains(f.GetName(), "pickups") && !strings.Contains(f.GetName(), "aborts") {
			continue
		}
		for _, s := range f.GetMetric() {
			var labels []string
			for _, l := range s.GetLabel() {
				labels = append(labels, l.GetName()+`="`+l.GetValue()+`"`)
			}
			got[f.GetName()+"{"+strings.Join(labels, ",")+"}"] = s.GetCounter().GetValue()
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("series:\n got %v\nwant %v", got, want)
	}
}
