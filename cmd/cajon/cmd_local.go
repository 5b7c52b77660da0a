package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cajonfarm/cajon/host/config"
	"github.com/cajonfarm/cajon/host/fileroots"
	"github.com/cajonfarm/cajon/host/local/jobfile"
	"github.com/cajonfarm/cajon/host/local/jobstore"
	"github.com/cajonfarm/cajon/host/local/scheduler"
	"github.com/cajonfarm/cajon/host/logstore"
	"github.com/cajonfarm/cajon/host/task"
	"github.com/cajonfarm/cajon/sdk/phrase"
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
		id, job.Name, len(job.Tasks), phrase.Plural(len(job.Tasks), "task", "tasks"), when)
	return nil
}

// stoppedSubmit says that a signal stopped submit, when it did.
func stoppedSubmit(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return &exitError{code: 130, err: errors.New("stopped; nothing was submitted")}
	}
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
	var tasks task.Executor = &task.Runner{Commands: reg, Grace: cfg.KillGrace, Guard: commandGuard(cfg)}
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
			len(ids), phrase.Plural(len(ids), "job", "jobs"), strings.Join(ids, ", "))}
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
	fmt.Fprintf(env.stdout, "removed %d %s that finished before %s (%s ago): %s\n", len(res.Jobs), phrase.Plural(len(res.Jobs), "job", "jobs"),
		before.Local().Format(time.RFC3339), jobfile.FormatDuration(age), strings.Join(ids, ", "))
	fmt.Fprintf(env.stderr, "cajon: with %d log %s (%d bytes) and %d %s\n", res.LogFiles, phrase.Plural(res.LogFiles, "file", "files"),
		res.LogBytes, res.Previews, phrase.Plural(res.Previews, "preview", "previews"))
	return err
}
