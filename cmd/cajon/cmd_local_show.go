package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cajonfarm/cajon/host/local/jobfile"
	"github.com/cajonfarm/cajon/host/local/jobstore"
	"github.com/cajonfarm/cajon/host/local/scheduler"
	"github.com/cajonfarm/cajon/host/logstore"
)

// This file holds the commands that read the local queue: list, show and
// logs.

func cmdLocalList(ctx context.Context, env *cliEnv, args []string) error {
	var common commonFlags
	fs := newFlags(env, "local list", "local list [--json] [flags]", "List the jobs of the local queue, newest first.")
	common.register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseLocalFlags(fs, args, 0, 0); err != nil {
		return err
	}
	_, store, err := openLocal(ctx, env, &common, nil)
	if err != nil {
		return err
	}
	defer store.Close()
	jobs, err := store.Jobs(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	if *asJSON {
		out := make([]jobJSON, len(jobs))
		for i, j := range jobs {
			out[i] = jobJSON{JobInfo: j, Status: j.Status(now)}
		}
		return writeJSON(env.stdout, out)
	}
	if len(jobs) == 0 {
		fmt.Fprintf(env.stderr, "cajon: the local queue %s is empty; add a job with 'cajon local submit FILE'\n", store.Path())
		return nil
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tSTATUS\tPRIO\tTASKS\tWHEN")
	for _, j := range jobs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\n", j.ID, j.Name, statusText(j.Status(now), j.RunnerGone), j.Priority, taskCounts(j), jobWhen(j, now))
	}
	return tw.Flush()
}

// jobJSON is a job with its displayed status, for --json.
type jobJSON struct {
	*jobstore.JobInfo
	Status string `json:"status"`
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// statusText is a status as people read it: an interrupted job or task
// names the runner that is gone.
func statusText(status string, runnerGone int) string {
	if runnerGone != 0 && strings.EqualFold(status, jobstore.TaskInterrupted) {
		return fmt.Sprintf("%s (runner pid %d gone)", status, runnerGone)
	}
	return status
}

// taskCounts summarises a job's tasks: "3/5 completed, 1 running".
func taskCounts(j *jobstore.JobInfo) string {
	total := 0
	for _, n := range j.Tasks {
		total += n
	}
	parts := []string{fmt.Sprintf("%d/%d completed", j.Tasks[jobstore.TaskCompleted], total)}
	for _, s := range []string{jobstore.TaskRunning, jobstore.TaskInterrupted, jobstore.TaskFailed, jobstore.TaskCanceled, jobstore.TaskSkipped} {
		if n := j.Tasks[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	return strings.Join(parts, ", ")
}

// jobWhen says when a job runs or ran.
func jobWhen(j *jobstore.JobInfo, now time.Time) string {
	var s string
	switch j.Status(now) {
	case "scheduled":
		s = fmt.Sprintf("due %s (in %s)", clock(j.DueAt, now), jobfile.FormatDuration(j.DueAt.Sub(now).Round(time.Second)))
	case "queued":
		s = "due since " + clock(j.DueAt, now)
	case "running", jobstore.JobInterrupted:
		if j.Started != nil {
			s = fmt.Sprintf("started %s", clock(*j.Started, now))
		}
	default:
		if j.Finished != nil {
			s = "ended " + clock(*j.Finished, now)
		}
	}
	if j.Every > 0 {
		s += fmt.Sprintf("; every %s, run %d", jobfile.FormatDuration(j.Every), j.Run)
		if j.LastState != "" {
			s += ", last run " + j.LastState
		}
	}
	return s
}

// clock shows a time briefly: the time of day today, the date otherwise.
func clock(t, now time.Time) string {
	t = t.Local()
	if y, m, d := t.Date(); y == now.Year() && m == now.Month() && d == now.Day() {
		return t.Format("15:04:05")
	}
	return t.Format("2006-01-02 15:04")
}

func cmdLocalShow(ctx context.Context, env *cliEnv, args []string) error {
	var common commonFlags
	fs := newFlags(env, "local show", "local show [ID] [--tail N] [--json] [flags]",
		`Show a job (the latest one without ID): its state, when it runs, each
task's status, steps, activity, process ids, times and failure, and the end
of the log of tasks that are running, failed or were canceled.`)
	common.register(fs)
	tail := fs.Int("tail", 10, "log lines shown per task (0: none)")
	asJSON := fs.Bool("json", false, "print JSON (with every attempt of every task)")
	if err := parseLocalFlags(fs, args, 0, 1); err != nil {
		return err
	}
	_, store, err := openLocal(ctx, env, &common, nil)
	if err != nil {
		return err
	}
	defer store.Close()
	var id int64
	if fs.NArg() == 1 {
		if id, err = parseJobID(fs.Arg(0)); err != nil {
			return err
		}
	} else if id, err = store.LatestJob(ctx); err != nil {
		return err
	}
	job, tasks, err := store.Job(ctx, id)
	if err != nil {
		return err
	}
	now := time.Now()
	if *asJSON {
		return writeJSON(env.stdout, struct {
			jobJSON
			TaskList []*jobstore.TaskInfo `json:"task_list"`
		}{jobJSON{job, job.Status(now)}, tasks})
	}
	w := env.stdout
	fmt.Fprintf(w, "Job %d %q: %s\n", job.ID, job.Name, statusText(strings.ToUpper(job.Status(now)), job.RunnerGone))
	fmt.Fprintf(w, "  file:       %s\n", job.Source)
	fmt.Fprintf(w, "  priority:   %d\n", job.Priority)
	fmt.Fprintf(w, "  submitted:  %s\n", job.Created.Local().Format(time.RFC3339))
	if job.Every > 0 {
		fmt.Fprintf(w, "  recurring:  every %s; this is run %d\n", jobfile.FormatDuration(job.Every), job.Run)
		if job.LastState != "" {
			last := job.LastState
			if job.LastFinished != nil {
				last += " at " + job.LastFinished.Local().Format(time.RFC3339)
			}
			if job.LastMessage != "" {
				last += ": " + job.LastMessage
			}
			fmt.Fprintf(w, "  last run:   %s\n", last)
		}
	}
	due := job.DueAt.Local().Format(time.RFC3339)
	if job.DueAt.After(now) {
		due += fmt.Sprintf(" (in %s)", jobfile.FormatDuration(job.DueAt.Sub(now).Round(time.Second)))
	}
	fmt.Fprintf(w, "  due:        %s\n", due)
	if job.Started != nil {
		fmt.Fprintf(w, "  started:    %s\n", job.Started.Local().Format(time.RFC3339))
	}
	if job.Finished != nil {
		fmt.Fprintf(w, "  ended:      %s\n", job.Finished.Local().Format(time.RFC3339))
	}
	fmt.Fprintf(w, "  progress:   %d of %d steps; %s\n", job.StepsDone, job.StepsTotal, taskCounts(job))
	if job.Message != "" && job.State != "completed" {
		fmt.Fprintf(w, "  why:        %s\n", job.Message)
	}

	fmt.Fprintln(w, "\nTasks:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  TASK\tSTATUS\tSTEPS\tSTARTED\tTOOK\tPIDS\tDEPENDS ON")
	for _, t := range tasks {
		started, took := "", ""
		if t.Started != nil {
			started = clock(*t.Started, now)
			switch {
			case t.Finished != nil:
				took = round(t.Finished.Sub(*t.Started)).String()
			case t.Status == jobstore.TaskRunning:
				took = round(now.Sub(*t.Started)).String()
			}
		}
		pids := ""
		if len(t.Pids) > 0 {
			pids = strings.Trim(fmt.Sprint(t.Pids), "[]")
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d/%d\t%s\t%s\t%s\t%s\n", t.Name, statusText(t.Status, t.RunnerGone), t.StepsDone, t.StepsTotal, started, took, pids,
			strings.Join(t.DependsOn, ", "))
	}
	tw.Flush()
	for _, t := range tasks {
		var notes []string
		if t.Activity != "" && t.Status == jobstore.TaskRunning {
			notes = append(notes, "activity: "+t.Activity)
		}
		if t.Message != "" && t.Status != jobstore.TaskCompleted {
			notes = append(notes, "why: "+t.Message)
		}
		if t.Output != "" {
			notes = append(notes, "latest output: "+t.Output)
		}
		if t.Preview != "" {
			notes = append(notes, "latest preview: "+t.Preview)
		}
		if n := len(t.Attempts); n > 1 {
			notes = append(notes, fmt.Sprintf("attempts: %d (%s)", n, attemptSummary(t.Attempts)))
		}
		if len(notes) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n  %s:\n", t.Name)
		for _, n := range notes {
			fmt.Fprintf(w, "    %s\n", strings.ReplaceAll(n, "\n", "\n      "))
		}
	}
	if *tail > 0 {
		for _, t := range tasks {
			switch t.Status {
			case jobstore.TaskRunning, jobstore.TaskInterrupted, jobstore.TaskFailed, jobstore.TaskCanceled:
			default:
				continue
			}
			if t.LogPath == "" {
				continue
			}
			lines, err := logstore.TailFile(t.LogPath, *tail)
			if err != nil {
				fmt.Fprintf(w, "\nLog of %q: %v\n", t.Name, err)
				continue
			}
			fmt.Fprintf(w, "\nLog of %q, last %d lines (all of it: cajon local logs %d %s):\n", t.Name, len(lines), job.ID, shellQuote(t.Name))
			for _, l := range lines {
				fmt.Fprintf(w, "  | %s\n", l)
			}
		}
	}
	return nil
}

func attemptSummary(as []jobstore.Attempt) string {
	parts := make([]string, len(as))
	for i, a := range as {
		parts[i] = fmt.Sprintf("run %d %s", a.Run, a.Status)
	}
	return strings.Join(parts, ", ")
}

// shellQuote quotes a task name for a command line when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '-' || r == '_' || r == '.' || r == '/' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func cmdLocalLogs(ctx context.Context, env *cliEnv, args []string) error {
	var common commonFlags
	fs := newFlags(env, "local logs", "local logs ID [TASK] [flags]",
		`Print the full log of one task of a job, or of all its tasks one after the
other. The log is kept whole in the state directory (logs/), however long it
is, within the [log_store] caps. For a recurring job, the current (or last)
run's log, or with --run N that of an earlier run.`)
	common.register(fs)
	run := fs.Int("run", 0, "for a recurring job: the log of this run (1 is the first; default: the current or last run)")
	if err := parseLocalFlags(fs, args, 1, 2); err != nil {
		return err
	}
	id, err := parseJobID(fs.Arg(0))
	if err != nil {
		return err
	}
	cfg, store, err := openLocal(ctx, env, &common, nil)
	if err != nil {
		return err
	}
	defer store.Close()
	job, tasks, err := store.Job(ctx, id)
	if err != nil {
		return err
	}
	noLog := "not run yet"
	if *run != 0 {
		if *run < 1 || *run > job.Run {
			return &exitError{code: 2, err: fmt.Errorf("--run %d: job %d (%q) has had %s", *run, id, job.Name, runsText(job.Run))}
		}
		noLog = fmt.Sprintf("no log of run %d (the task has not run in it, or the [log_store] caps removed the log)", *run)
		// The store keeps the path of the latest log only; the log store
		// names every run's.
		logs, err := logstore.Open(pathsOf(cfg).logs, logstore.Limits{})
		if err != nil {
			return err
		}
		for _, t := range tasks {
			if t.LogPath, err = scheduler.TaskLogPath(logs, id, t.Name, *run); err != nil {
				return err
			}
			if _, err := os.Stat(t.LogPath); errors.Is(err, os.ErrNotExist) {
				t.LogPath = ""
			}
		}
	}
	if fs.NArg() == 2 {
		name := fs.Arg(1)
		for _, t := range tasks {
			if t.Name != name {
				continue
			}
			if t.LogPath == "" {
				return fmt.Errorf("task %q of job %d: %s", name, id, noLog)
			}
			return copyLog(env.stdout, t.LogPath)
		}
		names := make([]string, len(tasks))
		for i, t := range tasks {
			names[i] = t.Name
		}
		return fmt.Errorf("job %d (%q) has no task %q (tasks: %s)", id, job.Name, name, strings.Join(names, ", "))
	}
	for _, t := range tasks {
		if t.LogPath == "" {
			fmt.Fprintf(env.stdout, "==> task %q: %s <==\n", t.Name, noLog)
			continue
		}
		fmt.Fprintf(env.stdout, "==> task %q: %s <==\n", t.Name, t.LogPath)
		if err := copyLog(env.stdout, t.LogPath); err != nil {
			fmt.Fprintf(env.stdout, "(%v)\n", err)
		}
	}
	return nil
}

// runsText says how many runs a job has had: "run 1 only", "runs 1 to 4".
func runsText(runs int) string {
	if runs <= 1 {
		return "run 1 only"
	}
	return fmt.Sprintf("runs 1 to %d", runs)
}

func copyLog(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("the log %s is gone: removed by the [log_store] caps (max_total_bytes, max_age)", path)
		}
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}
