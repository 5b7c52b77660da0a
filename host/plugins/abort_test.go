package plugins_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/plugins"
)

// A command whose process ignores SIGTERM is ended by the plugin itself
// (SIGKILL after the grace): the host gets the plugin's canceled Result and
// the plugin process lives on, rather than the host killing the plugin
// because its wait ran out first.
func TestAbortOfATermIgnoringCommandIsThePluginsCanceled(t *testing.T) {
	var obs eventLog
	reg := open(t, []string{filepath.Join(binDir, "plugins")}, func(o *plugins.Options) { o.Observer = &obs })
	pidDir := t.TempDir()
	script, _ := filepath.Abs("testdata/ignore-term.sh")
	r := req("test-tree", map[string]any{"script": "sh " + script + " " + pidDir})
	r.Grace = 300 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan plugins.Result, 1)
	go func() { done <- reg.Run(ctx, r, nil) }()
	pids := waitForPids(t, pidDir, "ignore")
	plugin := pluginPid(t, reg, "testkit")
	cancel()
	res := <-done
	if res.Status != plugins.Canceled {
		t.Fatalf("status %v %q, want canceled", res.Status, res.Message)
	}
	assertAllGone(t, pids)
	if now := pluginPid(t, reg, "testkit"); now != plugin {
		t.Fatalf("the host killed the plugin (pid %d, now %d): %q", plugin, now, res.Message)
	}
	for _, e := range obs.take() {
		if e == "crashed testkit" {
			t.Fatalf("the plugin was counted as crashed: %q", res.Message)
		}
	}
}

// pluginPid is the pid of the plugin's current process, 0 if none.
func pluginPid(t *testing.T, reg *plugins.Registry, plugin string) int {
	t.Helper()
	for _, p := range reg.Processes() {
		if p.Plugin == plugin {
			return p.PID
		}
	}
	return 0
}
