package proctree

import (
	"context"
	"fmt"
)

// KillDescendants kills every descendant of pid (not pid itself). On Windows
// the Job Objects of the commands do the real work; this is the backstop.
func KillDescendants(ctx context.Context, pid int) error {
	ds, err := Descendants(pid)
	if err != nil {
		return fmt.Errorf("finding processes to kill: %w", err)
	}
	for _, d := range ds {
		_ = KillTree(ctx, d)
	}
	return nil
}

// KillTagged does nothing on Windows: a command's processes live in its Job
// Object, which dies with the plugin (KILL_ON_JOB_CLOSE).
func KillTagged(context.Context, int, string) error { return nil }

// Tagged finds nothing on Windows: a command's processes are in its Job
// Object, not tagged.
func Tagged(int, string) ([]int, error) { return nil, nil }
