package metrics_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/cajonfarm/cajon/host/metrics"
)

// cajon_worker_activity follows what the worker says it does, and a
// passing /healthz check carries its note (why the worker takes no task).
func TestWorkerActivityAndHealthNote(t *testing.T) {
	var mu sync.Mutex
	activity, why := "idle", ""
	set := func(a, w string) { mu.Lock(); activity, why = a, w; mu.Unlock() }
	read := func() (string, string) { mu.Lock(); defer mu.Unlock(); return activity, why }

	m := metrics.New()
	wm := m.Worker("desk-3")
	wm.WatchActivity(func() string { a, _ := read(); return a })
	addr := serve(t, m.Handler(metrics.Check{
		Name: "workstation of worker desk-3",
		Run:  func(context.Context) error { return nil },
		Note: func() string { _, w := read(); return w },
	}))

	for _, tt := range []struct{ activity, why string }{
		{"idle", ""},
		{"busy", ""},
		{"workstation_in_use", "a person is using this workstation"},
	} {
		set(tt.activity, tt.why)
		samples := scrape(t, addr)
		for _, a := range []string{"busy", "idle", "workstation_in_use"} {
			want := 0.0
			if a == tt.activity {
				want = 1
			}
			if got, ok := sample(samples, "cajon_worker_activity", "worker", "desk-3", "activity", a); !ok || got != want {
				t.Errorf("while %s: cajon_worker_activity{activity=%q} = %v (found %v), want %v", tt.activity, a, got, ok, want)
			}
		}
		status, _, body := get(t, addr, "/healthz")
		wantLine := "ok: workstation of worker desk-3\n"
		if tt.why != "" {
			wantLine = "ok: workstation of worker desk-3: " + tt.why + "\n"
		}
		if status != http.StatusOK || !strings.Contains(body, wantLine) {
			t.Errorf("while %s: /healthz %d %q, want 200 with %q", tt.activity, status, body, wantLine)
		}
	}
}
