package faults

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/plugins"
	"github.com/cajonfarm/cajon/internal/managertest"
	"github.com/cajonfarm/cajon/internal/testwait"
	"github.com/cajonfarm/cajon/internal/workertest"
)

// testPluginBigParameter: a task with a 5 MiB echo message runs while
// another command (a second slot, as with cajon local --slots 2) runs in
// the same exec plugin process.
func testPluginBigParameter(t *testing.T) {
	mgr := managertest.New(t, managertest.Config{FailAfter: 1})
	reg := openRegistry(t, nil, 0)
	workertest.Start(t, workerConfig(t, mgr), reg, workertest.FastTimings(), nil)

	warm := oneTask(mgr, workertest.CommandTask("warm-up", "misc", "echo", map[string]any{"message": "warm"}))
	waitTaskStatus(t, mgr, warm, managertest.StatusCompleted, 30*time.Second)
	pid := pluginPID(reg, "exec")

	// The other slot: a sleep in the same plugin, until aborted.
	ctx, abort := context.WithCancel(context.Background())
	defer abort()
	other := make(chan plugins.Result, 1)
	go func() {
		other <- reg.Run(ctx, plugins.Request{TaskID: "other", RunID: "faults-other-slot", Command: "sleep",
			Params: map[string]any{"duration_in_seconds": 600}}, nil)
	}()
	testwait.Within(t, "the other slot's sleep to run", 30*time.Second, func() bool {
		for _, p := range reg.Processes() {
			if p.Plugin == "exec" && p.Active > 0 {
				return true
			}
		}
		return false
	})

	big := oneTask(mgr, workertest.CommandTask("big", "misc", "echo", map[string]any{"message": strings.Repeat("x", 5<<20)}))
	ts := waitTaskStatus(t, mgr, big, managertest.StatusFailed, 60*time.Second)
	checkStatuses(t, ts, false, managertest.StatusActive, managertest.StatusFailed)
	for _, want := range []string{`parameter "message" is 5.0 MiB (5242880 bytes)`, "the largest a parameter may be, 4.0 MiB (4194304 bytes)"} {
		if !strings.Contains(ts.Activity, want) || !strings.Contains(ts.Log, want) {
			t.Errorf("the failure does not say %q: activity %q, log:\n%s", want, ts.Activity, tail(ts.Log, 2000))
		}
	}
	select {
	case r := <-other:
		t.Fatalf("the other slot's command ended with the big task: %v %q", r.Status, r.Message)
	default:
	}
	abort()
	// The plugin's own abort: canceled, and (below) the same exec pid.
	if r := <-other; r.Status != plugins.Canceled {
		t.Errorf("the other slot's command ended %v %q, want the plugin's own abort", r.Status, r.Message)
	}

	after := oneTask(mgr, workertest.CommandTask("after", "misc", "echo", map[string]any{"message": "after"}))
	checkStatuses(t, waitTaskStatus(t, mgr, after, managertest.StatusCompleted, 30*time.Second), false,
		managertest.StatusActive, managertest.StatusCompleted)
	if now := pluginPID(reg, "exec"); now != pid {
		t.Errorf("exec pid %d before, %d after: the plugin was restarted", pid, now)
	}
	mgr.CheckProtocol(t)
}
