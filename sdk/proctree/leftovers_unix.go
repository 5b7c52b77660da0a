//go:build unix

package proctree

import (
	"context"
	"fmt"
	"time"
)

// KillDescendants SIGKILLs every descendant of pid (not pid itself) and
// sweeps again until none is left. A plugin calls it on itself when the host
// is gone: orphans of its commands reparented to it (it is a subreaper), so
// this reaches even processes that left their command's group and tag.
func KillDescendants(ctx context.Context, pid int) error {
	return killUntilGone(ctx, func() ([]int, error) { return Descendants(pid) })
}

// KillTagged SIGKILLs every descendant of root started with
// CAJON_RUN_ID=<tag> or a sub-tag of it (SubTag: the tags sdk.Run.Exec gives
// each process it starts), with their own descendants. The host uses it after a
// plugin crashed: the dead plugin's orphans reparent to the host (a
// subreaper) and still carry their run's tag. macOS cannot read another
// process's environment; there the plugin's own sweep is all there is.
func KillTagged(ctx context.Context, root int, tag string) error {
	if tag == "" {
		return nil
	}
	return killUntilGone(ctx, func() ([]int, error) { return Tagged(root, tag) })
}

// Tagged lists the live descendants of root started with CAJON_RUN_ID=<tag>
// or a sub-tag of it (not their untagged descendants). Always empty on
// macOS, which cannot read another process's environment.
func Tagged(root int, tag string) ([]int, error) {
	ds, err := Descendants(root)
	if err != nil {
		return nil, err
	}
	var tagged []int
	for _, d := range ds {
		if has, _ := environHasTag(d, tag, true); has {
			tagged = append(tagged, d)
		}
	}
	return tagged, nil
}

// killUntilGone kills the trees of the pids find returns until it returns
// none, ctx ends, or KillTimeout passes.
func killUntilGone(ctx context.Context, find func() ([]int, error)) error {
	deadline := time.Now().Add(KillTimeout)
	delay := newPollDelay()
	for {
		pids, err := find()
		if err != nil {
			return fmt.Errorf("finding processes to kill: %w", err)
		}
		if len(pids) == 0 {
			return nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("processes %s survived SIGKILL", formatPids(pids))
		}
		for _, p := range pids {
			_ = KillTree(ctx, p)
		}
		select {
		case <-ctx.Done():
		case <-time.After(delay.next()):
		}
	}
}
