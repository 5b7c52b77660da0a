package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cajonfarm/cajon/host/config"
	"github.com/cajonfarm/cajon/host/fileroots"
	"github.com/cajonfarm/cajon/host/local/jobfile"
	"github.com/cajonfarm/cajon/host/local/jobstore"
	"github.com/cajonfarm/cajon/host/local/scheduler"
	"github.com/cajonfarm/cajon/host/logstore"
	"github.com/cajonfarm/cajon/host/task"
)

// localCommands are the `cajon local` subcommands.
func localCommands() map[string]subcommand {
	return map[string]subcommand{
		"submit": {"add a job file to the queue: now, --at TIME, or --every DURATION", cmdLocalSubmit},
		"list":   {"list the jobs", cmdLocalList},
		"show":   {"show a job: tasks, status, progress, pids, failure, log tail", cmdLocalShow},
		"logs":   {"print the full log of a job's tasks, or of one task", cmdLocalLogs},
		"cancel": {"cancel a job; running tasks are aborted with their process trees", cmdLocalCancel},
		"run":    {"work the queue until stopped (or, with --until-idle, until nothing is due)", cmdLocalRun},
		"prune":  {"remove finished jobs with their logs and previews (older than [local] keep_finished)", cmdLocalPrune},
	}
}

func cmdLocal(ctx context.Context, env *cliEnv, args []string) error {
	cmds := localCommands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" || args[0] == "help" {
		localUsage(env.stderr, cmds)
		if len(args) == 0 {
			return &exitError{code: 2}
		}
		return nil
	}
	sc, ok := cmds[args[0]]
	if !ok {
		localUsage(env.stderr, cmds)
		return &exitError{code: 2, err: fmt.Errorf("unknown subcommand %q", args[0])}
	}
	return sc.run(ctx, env, args[1:])
}

func localUsage(w io.Writer, cmds map[string]subcommand) {
	fmt.Fprintln(w, `Usage: cajon local <subcommand> [flags] [arguments]

The local queue runs jobs on this machine, without a Manager: now, at a time,
or every interval. Jobs are TOML files (see docs/LOCAL.md and examples/jobs/);
the queue lives in the state directory (local.db, logs/).

Subcommands:`)
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'cajon local <subcommand> --help' for its flags.")
}

// localPaths are where the local queue keeps its files.
type localPaths struct{ db, logs, previews string }

func pathsOf(cfg *config.Config) localPaths {
	return localPaths{
		db:       filepath.Join(cfg.StateDir, jobstore.DBFile),
		logs:     filepath.Join(cfg.StateDir, "logs"),
		previews: filepath.Join(cfg.StateDir, "previews"),
	}
}

// openLocal loads the config and opens the job store.
func openLocal(ctx context.Context, env *cliEnv, common *commonFlags, extra map[string]string) (*config.Config, *jobstore.Store, error) {
	cfg, _, err := common.load(env, extra)
	if err != nil {
		return nil, nil, err
	}
	store, err := jobstore.Open(ctx, pathsOf(cfg).db)
	if err != nil {
		return nil, nil, err
	}
	return cfg, store, nil
}

// parseLocalFlags parses flags given before or after the positional
// arguments and checks their count.
func parseLocalFlags(fs *flag.FlagSet, args []string, minArgs, maxArgs int) error {
	if err := fs.Parse(reorderFlags(fs, args)); err != nil {
		return err
	}
	n := fs.NArg()
	if n >= minArgs && n <= maxArgs {
		return nil
	}
	takes := argumentCount(minArgs, maxArgs)
	if n < minArgs {
		return &exitError{code: 2, err: fmt.Errorf("missing argument: it takes %s (see '%s --help')", takes, fs.Name())}
	}
	// The usual cause: a space inside a flag's value (--every 1 h,
	// --at 2026-11-23 01:00).
	for _, a := range fs.Args() {
		flagName, value, ok := valueBefore(fs, args, a)
		switch {
		case !ok:
		case clockTime.MatchString(a):
			return &exitError{code: 2, err: fmt.Errorf("unexpected argument %q after --%s %s: did you mean --%s \"%s %s\"?", a, flagName, value, flagName, value, a)}
		case durationTail.MatchString(a):
			return &exitError{code: 2, err: fmt.Errorf("unexpected argument %q after --%s %s: did you mean --%s %s%s?", a, flagName, value, flagName, value, a)}
		}
	}
	return &exitError{code: 2, err: fmt.Errorf("unexpected argument %q: it takes %s (see '%s --help')", fs.Arg(maxArgs), takes, fs.Name())}
}

// clockTime and durationTail match the parts that a space cuts off a time
// ("01:00" of "2026-11-23 01:00") or a duration ("h" of "1 h").
var (
	clockTime    = regexp.MustCompile(`^[0-9]{1,2}:[0-9]{2}(:[0-9]{2})?$`)
	durationTail = regexp.MustCompile(`^[0-9.]*(ns|us|µs|ms|s|m|h|d)([0-9.]+(ns|us|µs|ms|s|m|h))*$`)
)

// argumentCount says how many arguments a command takes.
func argumentCount(minArgs, maxArgs int) string {
	switch {
	case maxArgs == 0:
		return "no arguments"
	case minArgs == maxArgs:
		return fmt.Sprintf("%d %s", minArgs, plural(minArgs, "argument", "arguments"))
	case minArgs == 0:
		return fmt.Sprintf("at most %d %s", maxArgs, plural(maxArgs, "argument", "arguments"))
	}
	return fmt.Sprintf("%d to %d arguments", minArgs, maxArgs)
}

// valueBefore finds the positional argument arg in args right after the
// value of a flag that takes one, and returns the flag and that value.
func valueBefore(fs *flag.FlagSet, args []string, arg string) (name, value string, ok bool) {
	for i := 1; i < len(args); i++ {
		if args[i] != arg {
			continue
		}
		prev := args[i-1]
		if n, v, found := strings.Cut(strings.TrimLeft(prev, "-"), "="); found && strings.HasPrefix(prev, "-") && takesValue(fs, n) {
			return n, v, true
		}
		if i >= 2 && strings.HasPrefix(args[i-2], "-") && !strings.HasPrefix(prev, "-") {
			if n := strings.TrimLeft(args[i-2], "-"); !strings.Contains(n, "=") && takesValue(fs, n) {
				return n, prev, true
			}
		}
	}
	return "", "", false
}

// takesValue reports whether fs has a flag of that name that is not a boolean.
func takesValue(fs *flag.FlagSet, name string) bool {
	f := fs.Lookup(name)
	if f == nil {
		return false
	}
	bf, ok := f.Value.(interface{ IsBoolFlag() bool })
	return !ok || !bf.IsBoolFlag()
}

// reorderFlags moves flags before positional arguments, knowing which flags
// of fs take no value (booleans).
func reorderFlags(fs *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if !takesValue(fs, name) {
			continue // a boolean, or unknown: the parser reports it
		}
		if i+1 < len(args) {
			flags = append(flags, args[i+1])
			i++
		}
	}
	return append(flags, pos...)
}

func parseJobID(s string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimPrefix(s, "#"), 10, 64)
	if err != nil || id <= 0 {
		return 0, &exitError{code: 2, err: fmt.Errorf("%q is not a job id (a number, as 'cajon local list' shows)", s)}
	}
	return id, nil
}

func cmdLocalSubmit(ctx context.Context, env *cliEnv, args []string) error {
	var common commonFlags
	fs := newFlags(env, "local submit", "local submit FILE [--at TIME] [--every DURATION] [flags]",
		`Check a job file against the plugins and add it to the local queue. Prints
the job's id on stdout. Nothing is stored when the file has a problem.

--at TIME: not before TIME, RFC 3339 (2026-11-23T01:00:00+01:00), local
  (2026-11-23 01:00) or relative (+2h, +90s, +1d).
--every DURATION: a recurring job (90s, 2h, 1d; at least 1s). After each run it
  is due again one interval after its previous due time, never earlier and
  never piling up. The same recurring job (same name, content and interval)
  cannot be added twice.

A running 'cajon local run' picks the job up; otherwise start one.`)
	common.register(fs)
	at := fs.String("at", "", "run not before this time (RFC 3339, local, or +DURATION)")
	every := fs.String("every", "", "run again every DURATION after each run")
	if err := parseLocalFlags(fs, args, 1, 1); err != nil {
		return err
	}
	var sub jobstore.Submission
	now := time.Now()
	if *at != "" {
		t, err := jobfile.ParseAt(*at, now)
		if err != nil {
			return &exitError{code: 2, err: fmt.Errorf("--at: %w", err)}
		}
		sub.At = t
	}
	if *every != "" {
		d, err := jobfile.ParseEvery(*every)
		if err != nil {
			return &exitError{code: 2, err: fmt.Errorf("--every: %w", err)}
		}
		sub.Every = d
	}
	file := fs.Arg(0)
	if abs, err := filepath.Abs(file); err == nil {
		sub.Source = abs
	} else {
		sub.Source = file
	}
	cfg, store, err := openLocal(ctx, env, &common, nil)
	if err != nil {
		return err
	}
	defer store.Close()
	// Parse first: a broken file needs no plugins to be reported.
	data, err := jobfile.ReadJobData(file)
	if err != nil {
		return err
	}
	job, err := jobfile.ParseJob(ctx, file, data)
	if err != nil {
		return stoppedSubmit(ctx, err)
	}
	log := newLogger(cfg, env.stderr)
	reg, err := openPlugins(ctx, cfg, log)
	if err != nil {
		return err
	}
	verr := job.Validate(ctx, file, jobfile.RegistryCommands{Registry: reg})
	reg.Close()
	if verr != nil {
		return stoppedSubmit(ctx, verr)
	}
	id, err := store.Submit(ctx, job, sub)
	if err != nil {
		return stoppedSubmit(ctx, err)
	}
	fmt.Fprintln(env.stdout, id)
	when := "due now"
	if !sub.At.IsZero() {
		when = fmt.Sprintf("due at %s (in %s)", sub.At.Format(time.RFC3339), jobfile.FormatDuration(sub.At.Sub(now).Round(time.Second)))
	}
	if sub.Every > 0 {
		when += ", then every " + jobfile.FormatDuration(sub.Every)
	}
	fmt.Fprintf(env.stderr, "cajon: job %d %q submitted: %d %s, %s; run it with 'cajon local run'\n",
		id, job.Name, len(job.Tasks), plural(len(job.Tasks), "task", "tasks"), when)
	return nil
}

// stoppedSubmit says that a signal stopped submit, when it did.
func stoppedSubmit(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return &exitError{code: 130, err: errors.New("stopped; nothing was submitted")}
	}
	return err
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

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

func cmdLocalCancel(ctx context.Context, env *cliEnv, args []string) error {
	var common commonFlags
	fs := newFlags(env, "local cancel", "local cancel ID [--no-wait] [flags]",
		`Cancel a job: its queued tasks will not run, a recurring job does not run
again, and its running tasks are aborted by the 'cajon local run' that runs
them, with their whole process tree (SIGTERM, kill_grace, SIGKILL). Waits until
they are gone, unless --no-wait.`)
	common.register(fs)
	noWait := fs.Bool("no-wait", false, "return at once, without waiting for running tasks to be aborted")
	if err := parseLocalFlags(fs, args, 1, 1); err != nil {
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
	res, err := store.Cancel(ctx, id)
	if err != nil {
		return err
	}
	if len(res.Aborting) == 0 {
		fmt.Fprintf(env.stderr, "cajon: job %d canceled\n", id)
		return nil
	}
	fmt.Fprintf(env.stderr, "cajon: job %d canceled; cajon local run (pid %d) is stopping %s (up to %s grace, then SIGKILL)\n",
		id, res.RunnerPid, strings.Join(quoteAll(res.Aborting), ", "), jobfile.FormatDuration(cfg.KillGrace))
	if *noWait {
		return nil
	}
	err = store.WaitAborted(ctx, id, res, cfg.KillGrace)
	if errors.Is(err, jobstore.ErrStillAborting) {
		return &exitError{code: 130, err: err}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stderr, "cajon: job %d: running tasks aborted\n", id)
	return nil
}

func quoteAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = strconv.Quote(n)
	}
	return out
}

func cmdLocalRun(ctx context.Context, env *cliEnv, args []string) error {
	var common commonFlags
	fs := newFlags(env, "local run", "local run [--until-idle] [--slots N] [--plain] [flags]",
		`Work the local queue: run the ready tasks of due jobs, by job priority then
age, up to --slots at once, until stopped with Ctrl+C or SIGTERM. Running
tasks are then aborted with their process trees and run again next time.
With --until-idle, stop when no task runs and none is due.

Tasks left running by a crash run again at the next start: commands must
tolerate a second run. On a terminal, a live progress display; plain log lines
otherwise (or with --plain).
Exit status: 0, or 1 when a job failed while this command ran.`)
	common.register(fs)
	untilIdle := fs.Bool("until-idle", false, "stop when nothing is running or due")
	slots := fs.Int("slots", 0, "tasks run at once (default: [local] slots, 1)")
	plain := fs.Bool("plain", false, "plain log lines even on a terminal")
	if err := parseLocalFlags(fs, args, 0, 0); err != nil {
		return err
	}
	extra := map[string]string{}
	if *slots != 0 {
		extra["local.slots"] = strconv.Itoa(*slots)
	}
	cfg, store, err := openLocal(ctx, env, &common, extra)
	if err != nil {
		return err
	}
	defer store.Close()

	out := newRunOutput(env, cfg, *plain)
	defer out.close()
	log := out.logger

	paths := pathsOf(cfg)
	logs, err := logstore.Open(paths.logs, logstore.Limits{MaxTotalBytes: cfg.LogStore.MaxTotalBytes, MaxAge: cfg.LogStore.MaxAge})
	if err != nil {
		return err
	}
	fm := newFarmMetrics(cfg, log)
	reg, err := openPluginsWith(ctx, cfg, log, fileroots.Configured(cfg.Files.AllowedRoots), fm.plugins())
	if err != nil {
		return err
	}
	defer reg.Close()
	var tasks scheduler.TaskRunner = &task.Runner{Commands: reg, Grace: cfg.KillGrace}
	if wm := fm.worker("local"); wm != nil {
		tasks = wm.Tasks(tasks)
	}
	fm.check("local job store", func(ctx context.Context) error {
		// An empty queue answers too (ErrNotFound).
		if _, err := store.LatestJob(ctx); err != nil && !errors.Is(err, jobstore.ErrNotFound) {
			return fmt.Errorf("the local job store %s does not answer: %w", store.Path(), err)
		}
		return nil
	})
	if err := fm.serve(); err != nil {
		return err
	}
	defer fm.close()
	runner := &scheduler.Runner{
		Store:        store,
		Tasks:        tasks,
		Logs:         logs,
		Slots:        cfg.Local.Slots,
		PreviewDir:   paths.previews,
		KeepFinished: cfg.Local.KeepFinished,
		Logger:       log.Named("local"),
		Events:       out.event,
	}
	out.start(runner)
	sum, err := runner.Run(ctx, *untilIdle)
	out.stop()
	if err != nil {
		return err
	}
	log.Info("stopped", "completed", sum.Completed, "failed", sum.Failed, "canceled", sum.Canceled, "interrupted", sum.Interrupted)
	if len(sum.FailedJobs) > 0 {
		ids := make([]string, len(sum.FailedJobs))
		for i, id := range sum.FailedJobs {
			ids[i] = strconv.FormatInt(id, 10)
		}
		return &exitError{code: 1, err: fmt.Errorf("%d %s failed: %s (see 'cajon local show ID')",
			len(ids), plural(len(ids), "job", "jobs"), strings.Join(ids, ", "))}
	}
	return nil
}

func cmdLocalPrune(ctx context.Context, env *cliEnv, args []string) error {
	var common commonFlags
	fs := newFlags(env, "local prune", "local prune [--older-than DURATION] [flags]",
		`Remove the finished jobs (completed, failed, or canceled) whose last run
ended more than DURATION ago, with their tasks' full logs and kept previews.
Waiting and running jobs, and recurring jobs that will run again, are never
removed; the id of a removed job is never given to a new one. Prints how many
jobs were removed and their ids.

Without --older-than, [local] keep_finished (default 720h, 30 days) is used;
when that is 0 (keep forever) nothing is removed. 'cajon local run' does the
same by itself when it starts and about once an hour.

--older-than DURATION: 90m, 12h, 30d, 1d12h (more than 0).`)
	common.register(fs)
	olderThan := fs.String("older-than", "", "remove jobs that ended more than DURATION ago (default: [local] keep_finished)")
	if err := parseLocalFlags(fs, args, 0, 0); err != nil {
		return err
	}
	var age time.Duration
	if *olderThan != "" {
		d, err := jobfile.ParseDuration(strings.TrimSpace(*olderThan))
		if err != nil {
			return &exitError{code: 2, err: fmt.Errorf("--older-than: %w", err)}
		}
		if d <= 0 {
			return &exitError{code: 2, err: fmt.Errorf("--older-than %s: must be more than 0 (1s removes every finished job)", *olderThan)}
		}
		age = d
	}
	cfg, store, err := openLocal(ctx, env, &common, nil)
	if err != nil {
		return err
	}
	defer store.Close()
	if age == 0 {
		if age = cfg.Local.KeepFinished; age == 0 {
			fmt.Fprintln(env.stdout, "nothing removed: local.keep_finished is 0 (keep finished jobs forever); give --older-than DURATION to remove them")
			return nil
		}
	}
	paths := pathsOf(cfg)
	// No size or age caps here: those are the business of 'cajon local run',
	// which knows which logs it has open.
	logs, err := logstore.Open(paths.logs, logstore.Limits{})
	if err != nil {
		return err
	}
	before := time.Now().Add(-age)
	res, err := scheduler.Pruner{Store: store, Logs: logs, PreviewDir: paths.previews}.Prune(ctx, before)
	if len(res.Jobs) == 0 {
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "removed 0 jobs: none finished before %s (%s ago)\n", before.Local().Format(time.RFC3339), jobfile.FormatDuration(age))
		return nil
	}
	ids := make([]string, len(res.Jobs))
	for i, id := range res.Jobs {
		ids[i] = strconv.FormatInt(id, 10)
	}
	fmt.Fprintf(env.stdout, "removed %d %s that finished before %s (%s ago): %s\n", len(res.Jobs), plural(len(res.Jobs), "job", "jobs"),
		before.Local().Format(time.RFC3339), jobfile.FormatDuration(age), strings.Join(ids, ", "))
	fmt.Fprintf(env.stderr, "cajon: with %d log %s (%d bytes) and %d %s\n", res.LogFiles, plural(res.LogFiles, "file", "files"),
		res.LogBytes, res.Previews, plural(res.Previews, "preview", "previews"))
	return err
}
