package plugins

import (
	"testing"
	"time"

	"github.com/cajonfarm/cajon/sdk/proctree"
)

// pluginResultTail is the longest sdk/process.Run takes, after the tree
// kill, to return: 1 s for a leader that survived SIGKILL, then up to
// max(drain, 1 s) + 1 s for the last output with the default drain.
const pluginResultTail = 3 * time.Second

// TestAbortTimingOrder: the host waits for an aborted command longer than
// the plugin's own abort can take (grace, proctree's kill, the result), so it
// never kills a plugin whose canceled Result is on its way.
func TestAbortTimingOrder(t *testing.T) {
	if abortSlack <= pluginResultTail {
		t.Errorf("abortSlack %s does not cover the plugin's %s after the kill", abortSlack, pluginResultTail)
	}
	for _, grace := range []time.Duration{0, 100 * time.Millisecond, 10 * time.Second, time.Hour} {
		pluginTakes := grace + proctree.KillTimeout + pluginResultTail
		if got := AbortDeadline(grace); got <= pluginTakes {
			t.Errorf("grace %s: the host waits %s, the plugin may take %s (grace + proctree.KillTimeout %s + %s)",
				grace, got, pluginTakes, proctree.KillTimeout, pluginResultTail)
		}
		if got, want := AbortDeadline(grace), grace+proctree.KillTimeout+abortSlack; got != want {
			t.Errorf("grace %s: AbortDeadline %s, want grace + proctree.KillTimeout + abortSlack = %s", grace, got, want)
		}
	}
}
