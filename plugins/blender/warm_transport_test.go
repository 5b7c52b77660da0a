package main

import (
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/internal/testwait"
)

// dialSession connects to a session's listener as the driver does.
func dialSession(t *testing.T, network, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial(network, addr)
	if err != nil {
		t.Fatalf("connecting to the warm session's %s socket %s: %v", network, addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedByPeer reports whether the other end closed c (a read ends).
func closedByPeer(c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	_, err := c.Read(make([]byte, 1))
	return err == io.EOF || (err != nil && !isTimeout(err))
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// TestWarmConnectionsAreAuthenticatedFirstAndServedInParallel: connections
// that send nothing, or a wrong token, do not hold up the driver's, which
// gets the session while they are still open; they are dropped, the silent
// ones after sessionAuthWait.
func TestWarmConnectionsAreAuthenticatedFirstAndServedInParallel(t *testing.T) {
	dir := t.TempDir()
	s := newSession("key", "job")
	s.token = strings.Repeat("ab", 16)
	ln, network, err := listenPrivate(dir, s.token)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go s.accept(ln, dir)

	var silent []net.Conn
	for range 30 {
		silent = append(silent, dialSession(t, network, ln.Addr().String()))
	}
	wrong := dialSession(t, network, ln.Addr().String())
	if _, err := wrong.Write([]byte(strings.Repeat("cd", 16) + "\n")); err != nil {
		t.Fatal(err)
	}
	long := dialSession(t, network, ln.Addr().String())
	if _, err := long.Write([]byte(s.token + strings.Repeat("x", 4096))); err != nil {
		t.Fatal(err)
	}
	driver := dialSession(t, network, ln.Addr().String())
	if _, err := driver.Write([]byte(s.token + "\n")); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, "the driver's connection to get the session", func() bool { return isClosed(s.connected) })
	for i, c := range silent {
		if closedByPeer(c) {
			t.Fatalf("silent connection %d was dropped before the driver's was taken: they were served one after another", i)
		}
	}
	testwait.For(t, "the wrong token's connection to be dropped", func() bool { return closedByPeer(wrong) })
	testwait.For(t, "the connection with too long a first line to be dropped", func() bool { return closedByPeer(long) })
	testwait.For(t, "the silent connections to be dropped", func() bool {
		for _, c := range silent {
			if !closedByPeer(c) {
				return false
			}
		}
		return true
	})
	s.mu.Lock()
	conn := s.conn
	s.mu.Unlock()
	if conn == nil || closedByPeer(driver) {
		t.Fatal("the driver's connection is not the session's")
	}
}

// TestWarmSocketNeedsNoPathOnLinux: the warm session listens on an
// abstract Unix socket on Linux: no TCP, no socket file, no path limit.
func TestWarmSocketNeedsNoPathOnLinux(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("abstract Unix sockets are Linux's")
	}
	// A folder far past the 107 bytes of a socket path.
	dir := t.TempDir() + "/" + strings.Repeat("d", 150)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	ln, network, err := listenPrivate(dir, "token")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if network != "unix" || !strings.HasPrefix(ln.Addr().String(), "@cajon-warm-") {
		t.Errorf("listening on %s %s, want an abstract Unix socket (@cajon-warm-...)", network, ln.Addr())
	}
	if left, _ := os.ReadDir(dir); len(left) > 0 {
		t.Errorf("the session's folder holds %v: an abstract socket has no file", left)
	}
}
