package metrics

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// clock is a settable time for the health check's ages.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestManagerCheck(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		answers []int         // statuses of the requests, at start + 1 s each
		later   time.Duration // when the check runs, after start
		want    string        // "" = healthy
	}{
		{"no answer yet", nil, 10 * time.Second, "no answer from the Manager yet (the worker started 10s ago)"},
		{"no answer since start", nil, 2 * time.Minute, "no answer from the Manager since the worker started 2m0s ago (limit 1m0s)"},
		{"answered recently", []int{http.StatusNoContent}, 30 * time.Second, ""},
		{"answered long ago", []int{http.StatusOK}, 3 * time.Minute, "the Manager last answered 2m59s ago (limit 1m0s"},
		{"a conflict is an answer", []int{http.StatusConflict}, 30 * time.Second, ""},
		{"server errors are no answer", []int{http.StatusBadGateway, http.StatusServiceUnavailable}, 10 * time.Second, "no answer from the Manager yet"},
		{"no answer at all is none", []int{0}, 10 * time.Second, "no answer from the Manager yet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{t: start}
			m := New()
			m.now = c.now
			w := m.Worker("a")
			for i, status := range tt.answers {
				c.t = start.Add(time.Duration(i+1) * time.Second)
				var err error
				if status == 0 || status >= 300 {
					err = errors.New("failed")
				}
				w.ManagerRequest("state", status, err)
			}
			c.t = start.Add(tt.later)
			err := w.ManagerCheck(time.Minute).Run(context.Background())
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unhealthy: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}
