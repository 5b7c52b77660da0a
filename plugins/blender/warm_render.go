package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cajonfarm/cajon/plugins/internal/cmdline"
	"github.com/cajonfarm/cajon/sdk"
	"github.com/cajonfarm/cajon/sdk/process"
)

// warmOutcome is how a task's try to render warm ended, when it did not
// render: the task must render cold.
type warmOutcome struct {
	rendered bool   // the task is done; the error says how it went
	cold     string // else: why it renders cold
	dirty    bool   // out took output already: the cold render needs a fresh one
}

// rendered is the outcome of a task that rendered warm (or was aborted).
func rendered() warmOutcome { return warmOutcome{rendered: true} }

// cold is the outcome of a task that must render cold, and why.
func cold(why string) warmOutcome { return warmOutcome{cold: why} }

// renderWarm renders a task in the job's warm Blender, or says why the task
// must render cold after all.
func (r *Render) renderWarm(ctx context.Context, run *sdk.Run, cfg config, wt warmTask, out *renderOutput) (warmOutcome, error) {
	c, why := r.warm.take(run.JobID, wt.key, cfg)
	for _, l := range c.evicted {
		run.Log("cajon-plugin-blender: " + l)
	}
	if c.s == nil {
		return cold(why), nil
	}
	s := c.s
	aborted := func() (warmOutcome, error) {
		s.kill()
		r.warm.drop(s, "its task was aborted")
		return rendered(), ctx.Err()
	}
	if c.fresh {
		err := s.start(ctx, sessionStart{
			exe: wt.argv[0], prefix: wt.prefix, dir: run.WorkDir, env: environ(run.Env),
			tag: run.RunID + "/warm", grace: run.Grace, device: wt.device,
		})
		if err != nil {
			r.warm.drop(s, err.Error())
			return cold("the warm session could not start: " + err.Error()), nil
		}
	}
	if err := s.waitReady(ctx); err != nil {
		if ctx.Err() != nil {
			return aborted()
		}
		why := err.Error()
		if errors.Is(err, errSessionEnded) {
			why = endedWhy(s)
		}
		// Whatever keeps it from coming up would again for the job's next
		// tasks, each paying for a start in vain: they go cold at once.
		why = "the warm Blender did not get ready: " + why
		r.warm.refuse(s, wt.key, why)
		return cold(why), nil
	}

	pid, version, age, reload := s.info()
	defer run.UsesProcess(pid)()
	var label string
	if c.fresh {
		label = fmt.Sprintf("cajon-plugin-blender: cold: this task starts a warm Blender session (pid %d, Blender %s) that keeps the scene loaded for the job's next tasks", pid, version)
		if c.ended != "" {
			label += "; the last session stopped because " + c.ended
		}
	} else {
		label = fmt.Sprintf("cajon-plugin-blender: warm: rendering in the warm Blender session (pid %d, Blender %s): task %d of the session, which has run for %s",
			pid, version, c.n, age.Round(100*time.Millisecond))
		if reload > 0 {
			label += fmt.Sprintf("; the scene was reloaded in %s", reload.Round(10*time.Millisecond))
		}
	}
	var began atomic.Bool
	begin := func() {
		began.Store(true)
		run.Log(label)
		run.Logf("cajon-plugin-blender: running %s", cmdline.Join(wt.argv))
		logDevice(run)
	}
	ev, err := s.render(ctx, wt, run.RunID+"/warm", out, time.Duration(cfg.ExitTimeout), begin)
	switch {
	case ctx.Err() != nil:
		return aborted()
	case errors.Is(err, errNoAnswerAfterFrames):
		// Its frames are written: the task completes as a cold one whose
		// Blender did not exit, and the Blender is not used again.
		r.warm.drop(s, fmt.Sprintf("it did not answer within %s after its task's last frame ([plugins.blender] exit_timeout)", time.Duration(cfg.ExitTimeout)))
		run.Warn(noAnswerWarning(pid, cfg))
		return rendered(), finishRender(run, process.Result{Pid: pid}, out, cfg)
	case errors.Is(err, errSessionEnded):
		why := endedWhy(s)
		if !began.Load() {
			why = "the warm Blender ended before it took the task: " + why
			r.warm.refuse(s, wt.key, why)
			return cold(why), nil
		}
		r.warm.drop(s, why)
		res, runErr, _ := s.ended()
		if runErr != nil && res.Signal == "" && res.ExitCode == -1 {
			return rendered(), fmt.Errorf("running Blender %s: %w", wt.argv[0], runErr)
		}
		if res.ExitCode == 0 && res.Signal == "" {
			// A cold Blender exits 0 when it is done; the warm one must not
			// exit in the middle of a task at all.
			return rendered(), failure("the warm Blender exited in the middle of the task", &out.tr, out.tail.Lines())
		}
		return rendered(), finishRender(run, res, out, cfg)
	case err != nil:
		s.kill()
		r.warm.drop(s, err.Error())
		return warmOutcome{cold: err.Error(), dirty: began.Load()}, nil
	}
	switch ev.Ev {
	case "unsupported":
		r.warm.refuse(s, wt.key, ev.Why)
		why := "the warm session cannot apply these arguments exactly as Blender's command line does: " + ev.Why
		if ev.Started {
			// Output was taken already: the cold render starts afresh.
			return warmOutcome{cold: why, dirty: true}, nil
		}
		return cold(why), nil
	case "failed":
		run.Logf("cajon-plugin-blender: the warm session's driver failed in the middle of the task; the task renders again in a Blender of its own:\n%s", ev.Why)
		r.warm.refuse(s, wt.key, "its driver failed")
		return warmOutcome{cold: "the warm session's driver failed", dirty: true}, nil
	}
	if ev.ExitCode != 0 {
		run.Logf("cajon-plugin-blender: a script ended the task with exit status %d, as it would have ended a cold Blender", ev.ExitCode)
	}
	err = finishRender(run, process.Result{Pid: pid, ExitCode: ev.ExitCode}, out, cfg)
	r.warm.release(s, cfg)
	return rendered(), err
}

// endedWhy says how a session's Blender ended and what it printed last.
func endedWhy(s *session) string {
	res, runErr, last := s.ended()
	if res.Pid == 0 && runErr != nil {
		return runErr.Error() // it never ran
	}
	why := "Blender " + exitDescription(res)
	if runErr != nil {
		why += " (" + runErr.Error() + ")"
	}
	if len(last) > 0 {
		why += "; its last output:\n" + strings.Join(last, "\n")
	}
	return why
}

// noAnswerWarning names a warm Blender's hang after its frames for the task
// log and the host's warnings.
func noAnswerWarning(pid int, cfg config) string {
	return fmt.Sprintf("the warm Blender (pid %d) saved every frame asked for but did not answer within %s after its last frame ([plugins.blender] exit_timeout): "+
		"it was killed with its process tree and will not be used again; the frames are written, so the task is not failed for it. "+
		"A script or add-on of the scene likely hangs after rendering (a render_complete handler).", pid, time.Duration(cfg.ExitTimeout))
}
