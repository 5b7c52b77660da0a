package metrics

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// evictingListener serves at most max connections at once, so that clients
// can never take the file descriptors that task logs and plugins need. At
// the limit, a new connection takes the place of the oldest one that is not
// in a request (connected but silent, in a TLS handshake, or idle between
// keep-alive requests): a flood of silent connections cannot lock a scrape
// or a health check out. When every connection is in a request, Accept
// waits until one is not. track must be the server's ConnState.
type evictingListener struct {
	net.Listener
	max int

	mu     sync.Mutex
	freed  *sync.Cond // signalled when a connection ends or leaves a request
	conns  map[*trackedConn]bool
	closed bool
}

// trackedConn is one connection the listener handed out.
type trackedConn struct {
	net.Conn
	l     *evictingListener
	busy  bool      // in a request; guarded by l.mu
	since time.Time // accepted, or last became idle; guarded by l.mu
	once  sync.Once
}

func newEvictingListener(l net.Listener, max int) *evictingListener {
	e := &evictingListener{Listener: l, max: max, conns: map[*trackedConn]bool{}}
	e.freed = sync.NewCond(&e.mu)
	return e
}

// Accept waits for room (a connection not in a request, or fewer than
// max), accepts, and evicts the oldest connection not in a request when
// over the limit: for that moment, max+1 connections are open.
func (l *evictingListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	l.waitForRoomLocked()
	l.mu.Unlock()
	c, err := l.Listener.Accept() // fails at once once closed
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, l: l, since: time.Now()}
	l.mu.Lock()
	// The room seen before may have gone into requests meanwhile.
	l.waitForRoomLocked()
	var victim *trackedConn
	if len(l.conns) >= l.max {
		victim = l.oldestIdleLocked()
		delete(l.conns, victim)
	}
	l.conns[tc] = true
	l.mu.Unlock()
	if victim != nil {
		victim.Conn.Close()
	}
	return tc, nil
}

// waitForRoomLocked waits until there are fewer than max connections or
// one not in a request, or the listener is closed.
func (l *evictingListener) waitForRoomLocked() {
	for !l.closed && len(l.conns) >= l.max && l.oldestIdleLocked() == nil {
		l.freed.Wait()
	}
}

// Close stops accepting, also an Accept that waits for room.
func (l *evictingListener) Close() error {
	l.mu.Lock()
	l.closed = true
	l.freed.Broadcast()
	l.mu.Unlock()
	return l.Listener.Close()
}

// oldestIdleLocked is the connection not in a request that waited longest.
func (l *evictingListener) oldestIdleLocked() *trackedConn {
	var oldest *trackedConn
	for c := range l.conns {
		if !c.busy && (oldest == nil || c.since.Before(oldest.since)) {
			oldest = c
		}
	}
	return oldest
}

// track follows the connections' states (http.Server.ConnState).
func (l *evictingListener) track(c net.Conn, state http.ConnState) {
	// Under TLS the server sees the *tls.Conn around ours.
	if u, ok := c.(interface{ NetConn() net.Conn }); ok {
		c = u.NetConn()
	}
	tc, ok := c.(*trackedConn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch state {
	case http.StateActive:
		tc.busy = true
	case http.StateIdle:
		tc.busy, tc.since = false, time.Now()
		l.freed.Broadcast()
	case http.StateClosed, http.StateHijacked:
		delete(l.conns, tc)
		l.freed.Broadcast()
	}
}

// Close forgets the connection: its place is free.
func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.freed.Broadcast()
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

// open is how many connections the listener holds.
func (l *evictingListener) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}
