package metrics

import (
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/internal/testwait"
)

// evictionHarness is an evictingListener of 2 on loopback, with the
// server side of every connection it accepted.
type evictionHarness struct {
	l        *evictingListener
	accepted chan net.Conn
}

func newEvictionHarness(t *testing.T) *evictionHarness {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &evictionHarness{l: newEvictingListener(inner, 2), accepted: make(chan net.Conn, 10)}
	t.Cleanup(func() { h.l.Close() })
	go func() {
		for {
			c, err := h.l.Accept()
			if err != nil {
				close(h.accepted)
				return
			}
			h.accepted <- c
		}
	}()
	return h
}

// connect dials the listener and returns the server's side of it.
func (h *evictionHarness) connect(t *testing.T) (client, server net.Conn) {
	t.Helper()
	client, err := net.Dial("tcp", h.l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	select {
	case server = <-h.accepted:
	case <-time.After(testwait.Limit):
		t.Fatal("not accepted")
	}
	t.Cleanup(func() { server.Close() })
	return client, server
}

// closedByServer reports whether the server closed c's connection.
func closedByServer(c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	_, err := c.Read(make([]byte, 1))
	ne, timeout := err.(net.Error)
	return err != nil && !(timeout && ne.Timeout())
}

// TestEvictionTakesTheOldestSilentConnection: at the limit, a new
// connection takes the place of the oldest one not in a request; one in a
// request is never evicted.
func TestEvictionTakesTheOldestSilentConnection(t *testing.T) {
	h := newEvictionHarness(t)
	busyClient, busy := h.connect(t)
	h.l.track(busy, http.StateActive)
	silentClient, _ := h.connect(t)
	newClient, _ := h.connect(t)
	testwait.For(t, "the silent connection to be evicted", func() bool { return closedByServer(silentClient) })
	if closedByServer(busyClient) || closedByServer(newClient) {
		t.Error("a connection in a request, or the new one, was closed")
	}
	if n := h.l.open(); n != 2 {
		t.Errorf("the listener holds %d connections, want its limit of 2", n)
	}
}

// TestEvictionWaitsWhenEveryConnectionIsInARequest: with both places in a
// request, a third connection waits (in the backlog) until one leaves it.
func TestEvictionWaitsWhenEveryConnectionIsInARequest(t *testing.T) {
	h := newEvictionHarness(t)
	_, a := h.connect(t)
	h.l.track(a, http.StateActive)
	_, b := h.connect(t)
	h.l.track(b, http.StateActive)
	aClient := a.(*trackedConn)
	third, err := net.Dial("tcp", h.l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	h.l.track(a, http.StateIdle) // a's request ended: a is evicted for the third
	var got net.Conn
	select {
	case got = <-h.accepted:
	case <-time.After(testwait.Limit):
		t.Fatal("the third connection was not accepted after a place freed")
	}
	if got == nil {
		t.Fatal("the listener closed")
	}
	defer got.Close()
	// Had the third been accepted while both were in a request, there was
	// no one to evict: three would be open.
	h.l.mu.Lock()
	_, aOpen := h.l.conns[aClient]
	h.l.mu.Unlock()
	if n := h.l.open(); n != 2 || aOpen {
		t.Errorf("the listener holds %d connections (the one that left its request among them: %v), want 2 without it", n, aOpen)
	}
}
