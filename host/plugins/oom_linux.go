package plugins

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// adjustOOM gives the plugin process pid the OOM-killer adjustment value,
// which every process of its commands inherits at fork: the kernel then
// picks a runaway render before the worker, whose own score is left alone.
// Lowering a score below its current value needs CAP_SYS_RESOURCE; without
// it the plugin keeps its score and the error says so (a warning for the
// caller, not a failure: the commands can run).
func adjustOOM(pid, value int) error {
	path := "/proc/" + strconv.Itoa(pid) + "/oom_score_adj"
	cur, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("oom_score_adjust = %d: reading the plugin's score: %w", value, err)
	}
	now, _ := strconv.Atoi(strings.TrimSpace(string(cur)))
	if now == value {
		return nil
	}
	err = os.WriteFile(path, []byte(strconv.Itoa(value)), 0)
	switch {
	case err == nil:
		return nil
	case value < now:
		// The kernel refuses with EACCES; some sandboxes answer EIO.
		return fmt.Errorf("oom_score_adjust = %d is lower than the plugin's current %d, which needs CAP_SYS_RESOURCE (grant the worker that capability, e.g. AmbientCapabilities=CAP_SYS_RESOURCE in its systemd unit); its commands keep %d: %w", value, now, now, err)
	default:
		return fmt.Errorf("oom_score_adjust = %d: setting the plugin's score: %w", value, err)
	}
}
