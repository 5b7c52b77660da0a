// Package xvfbtest starts a virtual X display (Debian's xvfb) for tests of
// the workstation detectors, and gives it input with xdotool, as a person
// at the machine would.
package xvfbtest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Display is a running Xvfb server.
type Display struct {
	// Name is the display to connect to, e.g. ":7".
	Name string
}

// Start runs Xvfb on a free display number until the test ends. It skips
// the test, saying so, when Xvfb is not installed.
func Start(tb testing.TB) *Display {
	tb.Helper()
	if _, err := exec.LookPath("Xvfb"); err != nil {
		tb.Skip("Xvfb is not installed (Debian package xvfb): the X11 idle-time detector is not tested here")
	}
	r, wr, err := os.Pipe()
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Close()
	// -displayfd: Xvfb picks a free display and writes its number once it
	// accepts connections, so nothing waits on a guess.
	cmd := exec.Command("Xvfb", "-displayfd", "3", "-screen", "0", "320x240x24", "-nolisten", "tcp")
	cmd.ExtraFiles = []*os.File{wr}
	if err := cmd.Start(); err != nil {
		wr.Close()
		tb.Fatalf("starting Xvfb: %v", err)
	}
	wr.Close()
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	got := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n')
		got <- strings.TrimSpace(line)
	}()
	select {
	case n := <-got:
		if n == "" {
			tb.Fatal("Xvfb exited before it named its display")
		}
		return &Display{Name: ":" + n}
	case <-time.After(30 * time.Second): // a bound on a hung start, not a speed check
		tb.Fatal("Xvfb named no display within 30 s")
	}
	return nil
}

// MovePointer moves the display's pointer with xdotool: user input that
// resets the server's idle time. It skips the test without xdotool.
func (d *Display) MovePointer(tb testing.TB, x, y int) {
	tb.Helper()
	if _, err := exec.LookPath("xdotool"); err != nil {
		tb.Skip("xdotool is not installed (Debian package xdotool): no input can be given to the X display")
	}
	cmd := exec.Command("xdotool", "mousemove", fmt.Sprint(x), fmt.Sprint(y))
	cmd.Env = append(os.Environ(), "DISPLAY="+d.Name)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("xdotool mousemove on %s: %v: %s", d.Name, err, out)
	}
}
