package workstation

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/screensaver"
	"github.com/jezek/xgb/xproto"
)

// X11 reads the idle time of an X display from its MIT-SCREEN-SAVER
// extension: the server's own count since the last key or pointer input, the
// same clock that blanks the screen. It connects on first use and again
// after the display went away (a logout restarts the X server). The display's
// authorization comes from XAUTHORITY or ~/.Xauthority, as for any X client.
type X11 struct {
	display string

	mu   sync.Mutex
	conn *xgb.Conn
	root xproto.Window
}

// NewX11 returns a detector for display (":0", "host:1.0").
func NewX11(display string) *X11 { return &X11{display: display} }

// Name implements Detector.
func (x *X11) Name() string { return "x11 " + x.display }

// Idle implements Detector.
func (x *X11) Idle(ctx context.Context) (time.Duration, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.conn == nil {
		if err := x.connect(); err != nil {
			return 0, err
		}
	}
	type answer struct {
		reply *screensaver.QueryInfoReply
		err   error
	}
	// xgb's Reply takes no context; a hung server must not hold the poll.
	done := make(chan answer, 1)
	conn, root := x.conn, x.root
	go func() {
		r, err := screensaver.QueryInfo(conn, xproto.Drawable(root)).Reply()
		done <- answer{r, err}
	}()
	select {
	case a := <-done:
		if a.err != nil {
			x.drop()
			return 0, fmt.Errorf("asking X display %s for its idle time: %w", x.display, a.err)
		}
		return time.Duration(a.reply.MsSinceUserInput) * time.Millisecond, nil
	case <-ctx.Done():
		x.drop()
		return 0, ctx.Err()
	}
}

func (x *X11) connect() error {
	conn, err := xgb.NewConnDisplay(x.display)
	if err != nil {
		return fmt.Errorf("cannot open X display %s (is it running, and may this user open it? check DISPLAY's XAUTHORITY): %w", x.display, err)
	}
	if err := screensaver.Init(conn); err != nil {
		conn.Close()
		return fmt.Errorf("X display %s has no MIT-SCREEN-SAVER extension, so its idle time cannot be read: %w", x.display, err)
	}
	x.conn, x.root = conn, xproto.Setup(conn).DefaultScreen(conn).Root
	return nil
}

// drop forgets a connection that failed, so the next poll reconnects.
func (x *X11) drop() {
	if x.conn != nil {
		x.conn.Close()
		x.conn = nil
	}
}

// Close implements Detector.
func (x *X11) Close() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.drop()
	return nil
}
