package workstation_test

import (
	"context"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/workstation"
	"github.com/cajonfarm/cajon/internal/testwait"
	"github.com/cajonfarm/cajon/internal/xvfbtest"
)

// A pointer move on the display resets the idle time the detector reads.
func TestX11IdleResetsOnPointerMove(t *testing.T) {
	disp := xvfbtest.Start(t)
	det := workstation.NewX11(disp.Name)
	t.Cleanup(func() { _ = det.Close() })
	ctx := t.Context()

	idle := func() time.Duration {
		d, err := det.Idle(ctx)
		if err != nil {
			t.Fatalf("idle time of %s: %v", disp.Name, err)
		}
		return d
	}
	// Long enough that a loaded machine does not pass it between the move and
	// the read.
	const quiet = time.Second
	testwait.For(t, "the display to be idle for a while", func() bool { return idle() >= quiet })
	disp.MovePointer(t, 10, 20)
	if got := idle(); got >= quiet {
		t.Fatalf("idle time after a pointer move is %s, want under %s: the move was not seen", got, quiet)
	}
	// Idle grows again without input.
	testwait.For(t, "the idle time to grow again", func() bool { return idle() >= quiet })
	disp.MovePointer(t, 30, 40)
	if got := idle(); got >= quiet {
		t.Fatalf("idle time after a second move is %s, want under %s", got, quiet)
	}
}

// A display that does not exist is an error naming it, not a zero idle
// time (which would read as a person at the machine).
func TestX11MissingDisplay(t *testing.T) {
	det := workstation.NewX11(":987")
	defer det.Close()
	_, err := det.Idle(context.Background())
	if err == nil {
		t.Fatal("no error for a display that does not run")
	}
	t.Log(err)
}
