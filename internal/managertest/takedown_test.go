package managertest

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// TestTakeDownWaitsForRequestsInFlight: a request being answered when the
// test takes the Manager down gets its whole answer; later ones find the
// Manager gone.
func TestTakeDownWaitsForRequestsInFlight(t *testing.T) {
	m := New(t, Config{})
	// A slow answer: in flight while TakeDown runs.
	if err := m.SetFault(Fault{Op: OpVersion, Delay: 300 * time.Millisecond, Count: 1}); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 20 * time.Second}
	status := make(chan int, 1)
	go func() {
		resp, err := client.Get(m.URL() + "/api/v3/version")
		if err != nil {
			t.Error(err)
			status <- 0
			return
		}
		resp.Body.Close()
		status <- resp.StatusCode
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := m.WaitFor(ctx, func() bool { m.mu.Lock(); defer m.mu.Unlock(); return len(m.active) == 1 }); err != nil {
		t.Fatal(err)
	}
	if err := m.TakeDown(ctx); err != nil {
		t.Fatal(err)
	}
	if got := <-status; got != http.StatusOK {
		t.Errorf("the request in flight got %d, want its answer (200)", got)
	}
	if resp, err := client.Get(m.URL() + "/api/v3/version"); err == nil {
		resp.Body.Close()
		t.Errorf("after TakeDown a request got %d, want connection refused", resp.StatusCode)
	}
	if err := m.ClearFaults(); err != nil {
		t.Fatal(err)
	}
	resp, err := client.Get(m.URL() + "/api/v3/version")
	if err != nil {
		t.Fatalf("after ClearFaults: %v", err)
	}
	resp.Body.Close()
}
