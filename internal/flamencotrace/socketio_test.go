package flamencotrace_test

import (
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/internal/flamencotrace"
)

func TestSocketIO(t *testing.T) {
	frames, err := flamencotrace.SocketIO("echo-sleep-cancel")
	if err != nil {
		t.Fatal(err)
	}
	if len(frames) < 10 || frames[0].Dir != "recv" || !strings.HasPrefix(frames[0].Text, "0{") {
		t.Fatalf("the recording does not open with the Manager's handshake: %+v", frames[:min(len(frames), 2)])
	}
	var notes []string
	for _, f := range frames {
		if f.Note != "" {
			notes = append(notes, f.Note)
		}
	}
	if len(notes) != 3 {
		t.Errorf("notes %q, want the submission, the cancel and the worker's status change", notes)
	}
	if n := len(flamencotrace.Received(frames, `42["/jobs"`)); n < 4 {
		t.Errorf("%d /jobs events, want queued, active, cancel-requested, canceled at least", n)
	}
	if _, err := flamencotrace.SocketIO("no-such-recording"); err == nil {
		t.Error("an unknown recording loaded")
	}
}
