package plugins_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/plugins"
)

// The node guard: a command over max_task_memory is killed and fails
// saying so, a silent command without CPU is aborted as stalled, and a
// command that prints or computes is left alone. Each sampled command's
// log ends with its peak memory.
func TestGuardStopsRunawayCommands(t *testing.T) {
	hog := `perl -e '$x = "x" x (200 << 20); print "allocated\n"; sleep 1000'`
	for _, tc := range []struct {
		name   string
		script string
		guard  plugins.Guard
		status plugins.Status
		want   []string // in the result's message
		by     string   // the observer's cause, "" = none
	}{
		{"over the memory cap", hog, plugins.Guard{MaxMemory: 64 << 20}, plugins.Failed,
			[]string{"killed by the out-of-memory killer (max_task_memory): peak ", "limit 64 MiB"}, "max_task_memory"},
		{"silent without CPU", `echo started; echo "last words"; exec sleep 1000`, plugins.Guard{StallTimeout: time.Second}, plugins.Failed,
			[]string{"stalled: no output and no CPU time", "for 1s (stall_timeout)", `last output`, `"last words"`}, "stall"},
		{"silent from the start", `exec sleep 1000`, plugins.Guard{StallTimeout: time.Second}, plugins.Failed,
			[]string{"stalled", "no output at all since it started"}, "stall"},
		{"printing", `for i in $(seq 30); do echo tick $i; sleep 0.1; done`, plugins.Guard{StallTimeout: 2 * time.Second}, plugins.Completed,
			nil, ""},
		{"computing in silence", `perl -e 'my $t = time + 3; while (time < $t) {}'`, plugins.Guard{StallTimeout: 2 * time.Second}, plugins.Completed,
			nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var obs eventLog
			reg := open(t, []string{filepath.Join(binDir, "plugins")}, func(o *plugins.Options) { o.Observer = &obs })
			r := req("test-tree", map[string]any{"script": tc.script})
			r.Guard = tc.guard
			r.Grace = 300 * time.Millisecond
			var c collector
			res := reg.Run(context.Background(), r, &c)
			t.Logf("%v: %s", res.Status, res.Message)
			if res.Status != tc.status {
				t.Fatalf("status %v %q, want %v", res.Status, res.Message, tc.status)
			}
			for _, w := range tc.want {
				if !strings.Contains(res.Message, w) {
					t.Errorf("message %q lacks %q", res.Message, w)
				}
			}
			c.mu.Lock()
			last := c.lines[len(c.lines)-1]
			c.mu.Unlock()
			if !strings.HasPrefix(last, "cajon: peak memory of the command's processes: ") {
				t.Errorf("the log does not end with the peak memory: %q", last)
			}
			guarded := ""
			for _, e := range obs.take() {
				if _, by, ok := strings.Cut(e, " guarded "); ok {
					guarded = by
				}
			}
			if guarded != tc.by {
				t.Errorf("observer told of guard %q, want %q", guarded, tc.by)
			}
			obs.mu.Lock()
			peaks := obs.peaks
			obs.mu.Unlock()
			if len(peaks) != 1 || (tc.guard.MaxMemory > 0 && peaks[0] <= tc.guard.MaxMemory) {
				t.Errorf("peaks told to the observer: %v", peaks)
			}
		})
	}
}
