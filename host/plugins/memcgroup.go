package plugins

import (
	"context"
	"fmt"

	"github.com/cajonfarm/cajon/host/cgroups"
	"github.com/cajonfarm/cajon/sdk/bytesize"
	"github.com/hashicorp/go-hclog"
)

// openCgroups finds the node's memory cgroup for the runs and says once, in
// the worker's log, how max_task_memory is enforced and why.
func openCgroups(ctx context.Context, log hclog.Logger) *cgroups.Manager {
	m, err := cgroups.Open(ctx, cgroups.SelfEnv())
	if err != nil {
		log.Info(fmt.Sprintf("memory cap: watchdog (%v; see docs/CONFIG.md, max_task_memory)", err))
		return nil
	}
	log.Info("memory cap: " + m.String() + ", one cgroup per command with max_task_memory as its limit (empty ones reused); the watchdog for plugins that do not start their commands in it")
	if m.Swept != "" {
		log.Warn("memory cap: " + m.Swept)
	}
	return m
}

// runCgroup gives req's run its memory cgroup (an idle one reused, else a
// new one) when it has a memory cap and the node has cgroups; nil
// otherwise. A failure is said in the task's log, and the watchdog holds
// the cap then.
func (r *Registry) runCgroup(ctx context.Context, req Request, events Events) *cgroups.Run {
	if r.cgroups == nil || req.Guard.MaxMemory <= 0 {
		return nil
	}
	// Not the run's ctx: an abort must not stop the removal of an idle
	// cgroup that cannot take the limit (bounded by Acquire).
	cg, err := r.cgroups.Acquire(context.WithoutCancel(ctx), req.RunID, req.Guard.MaxMemory)
	if err != nil {
		if events != nil {
			events.Log([]string{fmt.Sprintf("cajon: max_task_memory (%s) is left to the watchdog for this command: %v", bytesize.Format(req.Guard.MaxMemory), err)})
		}
		r.log.Warn("no memory cgroup for a command", "command", req.Command, "error", err)
		return nil
	}
	return cg
}

// releaseCgroup ends a run's use of its cgroup: kept for the next run when
// empty, else removed with what is left in it.
func (r *Registry) releaseCgroup(cg *cgroups.Run) {
	if cg == nil {
		return
	}
	// Release bounds a removal itself.
	if err := cg.Release(context.Background()); err != nil {
		r.log.Warn("memory cap: could not remove a command's cgroup", "error", err)
	}
}

// MemoryCap says how max_task_memory is enforced: in a memory cgroup per
// command ("cgroup v1 memory controller at ...", "cgroup v2 at ...") with the
// watchdog beside it, or by the watchdog alone ("watchdog").
func (r *Registry) MemoryCap() string {
	if r.cgroups == nil {
		return "watchdog"
	}
	return r.cgroups.String()
}
