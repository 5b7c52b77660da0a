package plugins_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/plugins"
	"github.com/cajonfarm/cajon/sdk/wire"
)

// startLongRun runs a command that goes on until aborted and returns once it
// has reported something (progress or a child process).
func startLongRun(t *testing.T, reg *plugins.Registry, r plugins.Request) (cancel func(), done <-chan plugins.Result) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	started := make(chan struct{})
	var once sync.Once
	res := make(chan plugins.Result, 1)
	go func() {
		begun := func() { once.Do(func() { close(started) }) }
		res <- reg.Run(ctx, r, eventFuncs{
			progress: func(plugins.Progress) { begun() },
			child:    func(plugins.ChildProcess) { begun() },
		})
	}()
	select {
	case <-started:
	case r := <-res:
		t.Fatalf("%s ended before it started: %v %q", r.Status, r.Status, r.Message)
	case <-time.After(20 * time.Second):
		t.Fatal("the long command did not start")
	}
	return cancel, res
}

// assertAbortedByPlugin aborts a long run and checks that the plugin itself
// ended it, as for any abort: canceled, and the plugin's process is still
// before's (it was not killed along with its plugin).
func assertAbortedByPlugin(t *testing.T, reg *plugins.Registry, before plugins.Process, cancel func(), done <-chan plugins.Result) {
	t.Helper()
	select {
	case r := <-done:
		t.Fatalf("the other command ended before it was aborted: %v %q", r.Status, r.Message)
	default:
	}
	cancel()
	r := <-done
	if r.Status != plugins.Canceled {
		t.Fatalf("the other command ended with %v %q, want canceled", r.Status, r.Message)
	}
	if after := processOf(t, reg, before.Plugin); after.PID != before.PID {
		t.Fatalf("plugin process %v, then %v: the abort killed the plugin (%q), want the plugin's own", before, after, r.Message)
	}
}

func TestBigParameterFailsOnlyItsCommand(t *testing.T) {
	reg := open(t, []string{filepath.Join(binDir, "plugins")})
	cancel, sleeping := startLongRun(t, reg, req("sleep", map[string]any{"duration_in_seconds": 600}))
	before := processOf(t, reg, "exec")

	cases := []struct {
		name   string
		params map[string]any
		want   []string
	}{
		{"a 5 MiB message", map[string]any{"message": strings.Repeat("x", 5<<20)},
			[]string{`command "echo": parameter "message" is 5.0 MiB (5242880 bytes)`, "the largest a parameter may be, 4.0 MiB (4194304 bytes)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := reg.Run(context.Background(), req("echo", tc.params), nil)
			if res.Status != plugins.Failed {
				t.Fatalf("status %v %q, want failed", res.Status, res.Message)
			}
			for _, w := range tc.want {
				if !strings.Contains(res.Message, w) {
					t.Errorf("message %q does not say %q", res.Message, w)
				}
			}
		})
	}
	if after := processOf(t, reg, "exec"); after.PID != before.PID || after.Active != 1 {
		t.Fatalf("plugin process %v, then %v: want the same exec plugin, still running the sleep", before, after)
	}
	assertAbortedByPlugin(t, reg, before, cancel, sleeping)
}

// A stream that breaks while the plugin is alive (here: an event larger than
// a message may be) fails that command only; the same plugin's other
// command goes on.
func TestBrokenStreamFailsOnlyItsCommand(t *testing.T) {
	reg := open(t, []string{filepath.Join(binDir, "plugins")})
	cancel, other := startLongRun(t, reg, req("test-tree", map[string]any{"script": "exec sleep 600"}))
	before := processOf(t, reg, "testkit")
	res := reg.Run(context.Background(), req("test-bigevent", nil), nil)
	if res.Status != plugins.Failed || !strings.Contains(res.Message, `plugin "testkit" broke off command "test-bigevent"`) ||
		!strings.Contains(res.Message, "larger than max") {
		t.Fatalf("got %v %q", res.Status, res.Message)
	}
	if after := processOf(t, reg, "testkit"); after.PID != before.PID || after.Active != 1 {
		t.Fatalf("plugin process %v, then %v: want the same plugin, still running the other command", before, after)
	}
	assertAbortedByPlugin(t, reg, before, cancel, other)
	// And the plugin still takes new commands.
	if res := reg.Run(context.Background(), req("test-steps", nil), nil); res.Status != plugins.Completed {
		t.Fatalf("after the broken stream: %v", res)
	}
}

// processOf is the running process of one plugin.
func processOf(t *testing.T, reg *plugins.Registry, plugin string) plugins.Process {
	t.Helper()
	for _, p := range reg.Processes() {
		if p.Plugin == plugin {
			return p
		}
	}
	t.Fatalf("plugin %s is not running: %v", plugin, reg.Processes())
	return plugins.Process{}
}

func TestCheckParamSizes(t *testing.T) {
	cases := []struct {
		name   string
		params map[string]any
		want   string // "" = no error
	}{
		{"small", map[string]any{"a": "x", "n": 3.0, "l": []any{"a"}}, ""},
		{"at the limit", map[string]any{"a": strings.Repeat("x", plugins.MaxParamBytes)}, ""},
		{"a string over", map[string]any{"big": strings.Repeat("x", plugins.MaxParamBytes+1)}, `parameter "big" is 4.0 MiB (4194305 bytes)`},
		{"a list over", map[string]any{"args": []any{strings.Repeat("x", 3<<20), strings.Repeat("y", 2<<20)}}, `parameter "args" is 5.0 MiB`},
		{"a table over", map[string]any{"env": map[string]any{"A": strings.Repeat("x", 5<<20)}}, `parameter "env" is 5.0 MiB`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := plugins.CheckParamSizes("cmd", tc.params)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want it to say %q", err, tc.want)
			}
		})
	}
	if plugins.MaxParamBytes >= wire.MaxMessageBytes {
		t.Fatal("a parameter at the limit could not be sent")
	}
}
