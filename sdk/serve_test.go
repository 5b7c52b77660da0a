package sdk

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cajonfarm/cajon/sdk/wire"
)

// A failure message is bounded, so that the result still fits in a message
// the host accepts, and cut at a character boundary.
func TestFailureMessageIsBounded(t *testing.T) {
	cases := []struct {
		name    string
		msg     string
		maxLen  int
		suffix  string
		unbound bool
	}{
		{name: "short", msg: "exit status 1", unbound: true},
		{name: "at the bound", msg: strings.Repeat("x", maxResultMessageBytes), unbound: true},
		{name: "huge", msg: strings.Repeat("x", wire.MaxMessageBytes), suffix: "... (16711680 more bytes of the message left out)"},
		{name: "cut inside a character", msg: strings.Repeat("x", maxResultMessageBytes-1) + "é" + strings.Repeat("y", 10), suffix: "... (12 more bytes of the message left out)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := failed(tc.msg).GetMessage()
			if tc.unbound {
				if got != tc.msg {
					t.Fatalf("message changed: %.80q", got)
				}
				return
			}
			if !strings.HasSuffix(got, tc.suffix) || len(got) > maxResultMessageBytes+len(tc.suffix) || !utf8.ValidString(got) {
				t.Fatalf("got %d bytes ending %q, want at most %d + %q, valid UTF-8", len(got), got[max(0, len(got)-60):], maxResultMessageBytes, tc.suffix)
			}
		})
	}
}

// The SDK's shutdown after the lifeline closed (commands, then the sweep)
// ends before the host's wire.ExitTime, so the host never kills a plugin
// that is still cleaning up.
func TestShutdownFitsTheHostsExitTime(t *testing.T) {
	if took := hostGoneGrace + hostGoneSweep; took >= wire.ExitTime {
		t.Errorf("shutdown may take %v (%v for commands + %v sweep), not less than wire.ExitTime %v", took, hostGoneGrace, hostGoneSweep, wire.ExitTime)
	}
}
