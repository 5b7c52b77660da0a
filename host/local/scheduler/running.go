package scheduler

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/cajonfarm/cajon/host/local/jobstore"
	"github.com/cajonfarm/cajon/host/logstore"
	"github.com/cajonfarm/cajon/host/task"
	"github.com/cajonfarm/cajon/sdk/wire"
)

// This file holds one attempt in progress: the task.Reporter that keeps its
// log, progress, processes, outputs and latest preview.

// runningTask is one attempt in progress; it is the task's task.Reporter.
type runningTask struct {
	claim      jobstore.Claim
	ctx        context.Context
	cancel     context.CancelCauseFunc
	previewDir string
	log        *logstore.TaskLog // set before the task runs

	mu       sync.Mutex
	dirty    bool
	steps    int
	activity string
	lastLine string
	pids     map[int]bool
	output   string
	preview  string
	logErr   bool
}

var _ task.Reporter = (*runningTask)(nil)

// Log appends lines to the task's full log.
func (rt *runningTask) Log(lines []string) {
	if len(lines) == 0 {
		return
	}
	err := rt.log.Append(lines)
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.TrimSpace(lines[i]) != "" {
			rt.lastLine = lines[i]
			break
		}
	}
	if err != nil && !rt.logErr {
		rt.logErr = true // say it once, in the activity, which show displays
		rt.activity = "cannot write the task log: " + err.Error()
		rt.dirty = true
	}
}

// Progress records steps done and the activity.
func (rt *runningTask) Progress(steps int, activity string) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if steps >= 0 {
		rt.steps = steps
	}
	if activity != "" {
		rt.activity = activity
	}
	rt.dirty = true
}

// Output records the latest output, or the latest preview.
func (rt *runningTask) Output(path, mime string) {
	if wire.IsPreview(path, mime) {
		kept := keepPreview(rt.previewDir, rt.claim.TaskID, path)
		rt.mu.Lock()
		rt.preview = kept
		rt.dirty = true
		rt.mu.Unlock()
		return
	}
	rt.mu.Lock()
	rt.output = path
	rt.dirty = true
	rt.mu.Unlock()
}

// Child records the processes the task's commands run.
func (rt *runningTask) Child(pid int, exited bool) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if exited {
		delete(rt.pids, pid)
	} else {
		rt.pids[pid] = true
	}
	rt.dirty = true
}

func (rt *runningTask) takeDirty() bool {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	d := rt.dirty
	rt.dirty = false
	return d
}

func (rt *runningTask) snapshot() Progress {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	pids := make([]int, 0, len(rt.pids))
	for p := range rt.pids {
		pids = append(pids, p)
	}
	sort.Ints(pids)
	return Progress{
		JobID: rt.claim.JobID, JobName: rt.claim.JobName, Task: rt.claim.Task.Name, Run: rt.claim.Run,
		StepsDone: rt.steps, StepsTotal: rt.claim.Task.StepsTotal(), Activity: rt.activity, LastLine: rt.lastLine,
		Started: rt.claim.Started, Pids: pids,
	}
}

func (rt *runningTask) progressRow(p Progress) jobstore.TaskProgress {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return jobstore.TaskProgress{TaskID: rt.claim.TaskID, AttemptID: rt.claim.AttemptID, StepsDone: p.StepsDone, Activity: p.Activity,
		Pids: p.Pids, Output: rt.output, Preview: rt.preview}
}

// keepPreview moves a preview into dir as <task id>.jpg (replacing the task's
// previous one) and returns where it is; plugins leave previews for the host
// to clean up. When dir is "" or the move fails, the preview stays where it
// is.
func keepPreview(dir string, taskID int64, path string) string {
	if dir == "" {
		return path
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return path
	}
	dst := previewPath(dir, taskID)
	if err := copyFile(path, dst); err != nil {
		return path
	}
	_ = os.Remove(path)
	_ = os.Remove(filepath.Dir(path)) // the run's preview folder, once empty
	return dst
}

// previewPath is where a task's latest preview is kept in dir.
func previewPath(dir string, taskID int64) string {
	return filepath.Join(dir, fmt.Sprintf("%d.jpg", taskID))
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(tmp)
		return err
	}
	if err := out.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, dst)
}
