package flamenco_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/cajonfarm/cajon/host/flamenco"
)

// seenRequest is one ManagerRequest call.
type seenRequest struct {
	op     string
	status int
	failed bool
}

// recordingObserver keeps every ManagerRequest call.
type recordingObserver struct {
	mu   sync.Mutex
	seen []seenRequest
}

func (o *recordingObserver) ManagerRequest(op string, status int, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.seen = append(o.seen, seenRequest{op: op, status: status, failed: err != nil})
}

func TestObserverSeesEveryRequest(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v3/worker/sign-off":
			w.WriteHeader(http.StatusNoContent)
		case "/api/v3/worker/state-changed":
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	// A port nobody listens on: the request gets no answer.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + l.Addr().String()
	l.Close()

	tests := []struct {
		name string
		url  string
		call func(*flamenco.Client) error
		want seenRequest
	}{
		{"success", srv.URL, func(c *flamenco.Client) error { return c.SignOff(context.Background()) },
			seenRequest{op: "sign-off", status: http.StatusNoContent}},
		{"server error", srv.URL, func(c *flamenco.Client) error {
			return c.StateChanged(context.Background(), flamenco.WorkerAwake)
		}, seenRequest{op: "state-changed", status: http.StatusServiceUnavailable, failed: true}},
		{"not found", srv.URL, func(c *flamenco.Client) error {
			return c.UpdateTask(context.Background(), "t-1", flamenco.TaskUpdate{Activity: "x"})
		}, seenRequest{op: "task-update", status: http.StatusNotFound, failed: true}},
		{"no answer", down, func(c *flamenco.Client) error { return c.SignOff(context.Background()) },
			seenRequest{op: "sign-off", status: 0, failed: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs := &recordingObserver{}
			c, err := flamenco.New(flamenco.Config{BaseURL: tt.url, Observer: obs})
			if err != nil {
				t.Fatal(err)
			}
			// The copy with credentials reports to the same observer.
			_ = tt.call(c.WithCredentials("w-1", "secret"))
			if len(obs.seen) != 1 || obs.seen[0] != tt.want {
				t.Errorf("observer saw %+v, want [%+v]", obs.seen, tt.want)
			}
		})
	}
}
