package workstation

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
)

// Logind reads systemd-logind's idle hint over the system bus: the hint the
// desktop (GNOME, KDE) sets after its own idle delay, and that logind keeps
// for text sessions from their terminals. logind's Manager object sums it
// up over all sessions: idle only when every session is.
type Logind struct {
	mu   sync.Mutex
	conn *dbus.Conn
	now  func() time.Time
}

// NewLogind returns a detector of logind's idle hint.
func NewLogind() *Logind { return &Logind{now: time.Now} }

// Name implements Detector.
func (l *Logind) Name() string { return "logind" }

// Idle implements Detector: 0 while logind says a session is active, else
// the time since IdleSinceHint.
func (l *Logind) Idle(ctx context.Context) (time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		conn, err := dbus.ConnectSystemBus(dbus.WithContext(ctx))
		if err != nil {
			return 0, fmt.Errorf("no system D-Bus, so logind's idle hint cannot be read (set workstation.logind = false where logind does not run): %w", err)
		}
		l.conn = conn
	}
	obj := l.conn.Object("org.freedesktop.login1", "/org/freedesktop/login1")
	var idle bool
	var since uint64
	err := obj.CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", 0, "org.freedesktop.login1.Manager", "IdleHint").Store(&idle)
	if err == nil && idle {
		err = obj.CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", 0, "org.freedesktop.login1.Manager", "IdleSinceHint").Store(&since)
	}
	if err != nil {
		l.conn.Close()
		l.conn = nil
		return 0, fmt.Errorf("reading logind's idle hint: %w", err)
	}
	if !idle {
		return 0, nil
	}
	// IdleSinceHint is in microseconds of the wall clock.
	return max(0, l.now().Sub(time.UnixMicro(int64(since)))), nil
}

// Close implements Detector.
func (l *Logind) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return nil
	}
	err := l.conn.Close()
	l.conn = nil
	return err
}
