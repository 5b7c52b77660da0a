package plugins_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/plugins"
)

// eventLog records what a registry tells its observer, as short strings.
type eventLog struct {
	mu      sync.Mutex
	events  []string
	aborted []time.Duration
	peaks   []int64 // CommandMemory, kept out of events: every run reports it
}

func (l *eventLog) add(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, fmt.Sprintf(format, args...))
}

func (l *eventLog) PluginStarted(plugin string, restart bool) {
	if restart {
		l.add("restarted %s", plugin)
	} else {
		l.add("started %s", plugin)
	}
}

func (l *eventLog) PluginCrashed(plugin string) { l.add("crashed %s", plugin) }

func (l *eventLog) CommandEnded(command string, status plugins.Status, took time.Duration) {
	l.add("%s %s", command, status)
}

func (l *eventLog) CommandWarned(command string, n int) { l.add("%s warned %d", command, n) }

func (l *eventLog) CommandGuarded(command, by string) { l.add("%s guarded %s", command, by) }

func (l *eventLog) CommandMemory(command string, peak int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.peaks = append(l.peaks, peak)
}

func (l *eventLog) CommandAborted(command string, took time.Duration) {
	l.add("aborted %s", command)
	l.mu.Lock()
	l.aborted = append(l.aborted, took)
	l.mu.Unlock()
}

// take returns the events so far and forgets them.
func (l *eventLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.events
	l.events = nil
	slices.Sort(out) // plugins start side by side at Open
	return out
}

func TestObserverSeesStartsCrashesRestartsAndCommands(t *testing.T) {
	obs := &eventLog{}
	reg := open(t, []string{filepath.Join(binDir, "plugins")}, func(o *plugins.Options) { o.Observer = obs })
	steps := []struct {
		name string
		run  func()
		want []string
	}{
		{"open starts every plugin once", func() {}, []string{"started exec", "started testkit"}},
		{"a completed command", func() {
			reg.Run(context.Background(), req("echo", map[string]any{"message": "hi"}), nil)
		}, []string{"echo completed"}},
		{"a crash", func() {
			reg.Run(context.Background(), req("test-crash", nil), nil)
		}, []string{"crashed testkit", "test-crash failed"}},
		{"the next command restarts the plugin", func() {
			reg.Run(context.Background(), req("test-steps", map[string]any{"count": 1}), nil)
		}, []string{"restarted testkit", "test-steps completed"}},
		{"an abort", func() {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			r := req("test-tree", map[string]any{"script": "sleep 60"})
			r.Grace = 500 * time.Millisecond
			reg.Run(ctx, r, eventFuncs{child: func(plugins.ChildProcess) {
				cancel() // the command runs: abort it
			}})
		}, []string{"aborted test-tree", "test-tree canceled"}},
		{"a command with warnings", func() {
			reg.Run(context.Background(), req("test-warn", map[string]any{"warnings": []any{"one", "two"}}), nil)
		}, []string{"test-warn completed", "test-warn warned 2"}},
		{"an unknown command", func() {
			reg.Run(context.Background(), req("no-such-command", nil), nil)
		}, []string{"no-such-command failed"}},
	}
	for _, s := range steps {
		s.run()
		if got := obs.take(); !slices.Equal(got, s.want) {
			t.Errorf("%s: observer saw %q, want %q", s.name, got, s.want)
		}
	}
	if len(obs.aborted) != 1 || obs.aborted[0] <= 0 {
		t.Errorf("abort latencies %v, want one above 0", obs.aborted)
	}
}
