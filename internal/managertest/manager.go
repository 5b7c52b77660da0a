// Package managertest is a strict, in-process fake Flamenco 3 Manager for
// tests: the worker endpoints on a loopback HTTP server, with the real
// Manager's status codes and state rules, a test-facing API to add jobs,
// request worker status changes and inspect what the worker sent, and fault
// injection (down, 5xx, slow, reset connections, malformed answers).
//
// It is stricter than the real Manager where that catches worker bugs: a
// request body with an unknown field (e.g. "task_status" instead of
// "taskStatus") is rejected with 400 instead of being ignored, and every 400
// or unknown endpoint is recorded in ProtocolErrors.
//
// It keeps its own wire types on purpose: sharing the client's structs would
// hide a wrong field name on both sides at once. Its tests hold those types
// and its answers to the recordings of a real Manager (internal/flamencotrace)
// and to the Manager's OpenAPI schema (its extract testdata/worker-api-schemas.json).
package managertest

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// Defaults of Config, the real Manager's defaults.
const (
	DefaultFailAfter          = 3 // task_fail_after_softfail_count
	DefaultBlocklistThreshold = 3 // blocklist_threshold
	DefaultOutputQueueSize    = 3 // the Manager's thumbnail queue
)

// MaxOutputBytes is the largest image output-produced accepts (413 above).
const MaxOutputBytes = 25 << 20

// Config tunes the fake. The zero value behaves like a default Manager.
type Config struct {
	// FailAfter is how many failures make a task fail for good; earlier
	// failures make it soft-failed and schedulable again. 0 means DefaultFailAfter.
	FailAfter int
	// BlocklistThreshold is how many failures of one worker in one job keep
	// that worker from getting more of the job's tasks. 0 means DefaultBlocklistThreshold.
	BlocklistThreshold int
	// OutputQueueSize is how many held outputs fit before output-produced
	// answers 429 (see HoldOutputs). 0 means DefaultOutputQueueSize.
	OutputQueueSize int
	// Logf, if set, logs every request and its answer (e.g. t.Logf).
	Logf func(format string, args ...any)
	// NewID, if set, makes the ids the fake hands out: workers', and those
	// of jobs and tasks added without one. nil means random UUIDs, like
	// the real Manager; Flamenco 3.9 no longer promises the UUID form, so
	// tests can give any other. It is called with the Manager locked and
	// must not call it.
	NewID func() string
	// SharedStorage is the shared storage location the Manager gives
	// workers; "" means DefaultSharedStorage.
	SharedStorage string
}

// Manager is a running fake Manager. All methods are safe for concurrent use.
type Manager struct {
	cfg  Config
	addr string // loopback host:port, kept across Down/up so the URL stays valid

	srvMu sync.Mutex // guards srv and down; never taken while holding mu
	srv   *http.Server
	down  bool

	mu             sync.Mutex
	changed        chan struct{} // closed and replaced on every state change
	workers        map[string]*worker
	workerOrder    []string
	jobs           map[string]*job
	jobOrder       []string
	tasks          map[string]*task
	faults         []*Fault
	holdOutputs    bool
	outputQueue    int
	outputs        []Output
	requests       []Request
	protocolErrors []string
	connections    int
	closed         bool
	// active holds the connections with a request being read or answered
	// (see TakeDown).
	active map[net.Conn]bool
	stream streamState
}

// Start starts a fake Manager on a loopback port. Close stops it.
func Start(cfg Config) (*Manager, error) {
	if cfg.FailAfter <= 0 {
		cfg.FailAfter = DefaultFailAfter
	}
	if cfg.BlocklistThreshold <= 0 {
		cfg.BlocklistThreshold = DefaultBlocklistThreshold
	}
	if cfg.OutputQueueSize <= 0 {
		cfg.OutputQueueSize = DefaultOutputQueueSize
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("managertest: listen on loopback: %w", err)
	}
	m := &Manager{
		cfg:     cfg,
		addr:    l.Addr().String(),
		changed: make(chan struct{}),
		workers: map[string]*worker{},
		jobs:    map[string]*job{},
		tasks:   map[string]*task{},
		active:  map[net.Conn]bool{},
		stream: streamState{conns: map[*streamConn]bool{}, sentJob: map[string]string{},
			sentTask: map[string]string{}},
	}
	m.serve(l)
	return m, nil
}

// New starts a fake Manager for a test and stops it when the test ends.
func New(tb testing.TB, cfg Config) *Manager {
	tb.Helper()
	m, err := Start(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(m.Close)
	return m
}

// URL is the Manager's base URL, e.g. "http://127.0.0.1:40123". It stays the
// same while the Manager is down.
func (m *Manager) URL() string { return "http://" + m.addr }

// Close stops the Manager and closes every connection.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	// Hijacked websocket connections outlive the server's Close.
	m.DropStreams()
	m.srvMu.Lock()
	defer m.srvMu.Unlock()
	if m.srv != nil {
		m.srv.Close()
		m.srv = nil
	}
	m.down = true
}

func (m *Manager) serve(l net.Listener) {
	srv := &http.Server{
		Handler:           http.HandlerFunc(m.serveHTTP),
		ReadHeaderTimeout: 10 * time.Second,
		ConnState: func(c net.Conn, s http.ConnState) {
			m.mu.Lock()
			defer m.mu.Unlock()
			switch s {
			case http.StateNew:
				m.connections++
			case http.StateActive:
				// From the request's first byte, before its fault is
				// chosen, until its answer is written whole.
				m.active[c] = true
				m.notify()
			default:
				if m.active[c] {
					delete(m.active, c)
					m.notify()
				}
			}
		},
	}
	m.srv = srv
	go func() {
		// Serve returns when Down or Close closes the server; nothing to report.
		_ = srv.Serve(l)
	}()
}

// goDown closes the listener and every open connection, so clients see
// "connection refused" until goUp.
func (m *Manager) goDown() {
	defer m.DropStreams()
	m.srvMu.Lock()
	defer m.srvMu.Unlock()
	if m.down {
		return
	}
	if m.srv != nil {
		m.srv.Close()
		m.srv = nil
	}
	m.down = true
}

// goUp listens again on the same port.
func (m *Manager) goUp() error {
	m.mu.Lock()
	closed := m.closed
	m.mu.Unlock()
	if closed {
		return nil
	}
	m.srvMu.Lock()
	defer m.srvMu.Unlock()
	if !m.down {
		return nil
	}
	// The port was ours a moment ago; binding again can fail briefly while
	// the kernel finishes closing the old socket.
	var err error
	for range 200 {
		var l net.Listener
		if l, err = net.Listen("tcp", m.addr); err == nil {
			m.down = false
			m.serve(l)
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("managertest: listen again on %s: %w", m.addr, err)
}

// notify wakes WaitFor callers; call with mu held.
func (m *Manager) notify() {
	m.streamChanges()
	close(m.changed)
	m.changed = make(chan struct{})
}

// WaitFor blocks until cond returns true or ctx ends. cond is evaluated now
// and after every change of the Manager's state (a request handled, a test
// call); it may call the Manager's methods.
func (m *Manager) WaitFor(ctx context.Context, cond func() bool) error {
	for {
		m.mu.Lock()
		ch := m.changed
		m.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("managertest: condition not met: %w", context.Cause(ctx))
		}
	}
}

// newID makes a new id; call with mu held.
func (m *Manager) newID() string {
	if m.cfg.NewID != nil {
		return m.cfg.NewID()
	}
	return newUUID()
}

// newUUID returns a random UUID (version 4) string.
func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("managertest: no randomness: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// errUnknownWorker is returned by test-facing methods given an unknown id.
func errUnknownWorker(id string) error {
	return fmt.Errorf("managertest: no worker %q", id)
}
