package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/cajonfarm/cajon/host/updates"
	"github.com/cajonfarm/cajon/host/worker"
	"github.com/cajonfarm/cajon/internal/managertest"
	"github.com/cajonfarm/cajon/internal/proctest"
	"github.com/cajonfarm/cajon/internal/testbin"
	"github.com/cajonfarm/cajon/internal/testwait"
	"github.com/cajonfarm/cajon/internal/workertest"
)

func TestPlainCommand(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		want  []string
		notes int
	}{
		{"plain cajon runs (finding the Manager when none is configured)", nil, []string{"run"}, 0},
		{"cajon's own flags", []string{"--manager", "http://m:8080", "--name", "n"}, []string{"run", "--manager", "http://m:8080", "--name", "n"}, 0},
		{"a value after =", []string{"-manager=http://m:8080"}, []string{"run", "-manager=http://m:8080"}, 0},
		{"a subcommand is kept", []string{"plugins", "-debug"}, []string{"plugins", "-debug"}, 0},
		{"help is kept", []string{"--help"}, []string{"--help"}, 0},
		{"help after flags is run's", []string{"-manager", "m", "-h"}, []string{"run", "-h"}, 0},
		// flamenco-worker's flags.
		{"-version", []string{"-debug", "-version"}, []string{"version"}, 0},
		{"-find-manager", []string{"-find-manager"}, []string{"find-manager", "--timeout", "1m"}, 0},
		{"-find-manager -trace", []string{"-find-manager", "-trace", "-manager", "m"}, []string{"find-manager", "--timeout", "1m", "--log-level", "trace"}, 0},
		{"-flush drops the restart code", []string{"-flush", "-manager", "m:8080", "-restart-exit-code", "47"}, []string{"flush", "-manager", "m:8080"}, 0},
		{"-flush -restart-exit-code=", []string{"-restart-exit-code=47", "--flush"}, []string{"flush"}, 0},
		{"-quiet", []string{"-quiet", "-manager", "m"}, []string{"run", "--log-level", "warn", "-manager", "m"}, 0},
		{"-debug beats -quiet", []string{"-quiet", "-debug"}, []string{"run", "--log-level", "debug"}, 0},
		{"-trace beats -debug", []string{"-debug", "-trace"}, []string{"run", "--log-level", "trace"}, 0},
		{"--log-level beats -debug", []string{"-debug", "--log-level", "error"}, []string{"run", "--log-level", "error"}, 0},
		{"-debug=false", []string{"-debug=false"}, []string{"run"}, 0},
		{"-register is accepted and does nothing", []string{"-register", "-restart-exit-code", "47"}, []string{"run", "-restart-exit-code", "47"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, notes, err := plainCommand(tt.args)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) || len(notes) != tt.notes {
				t.Errorf("plainCommand(%q) = %q, notes %q; want %q and %d notes", tt.args, got, notes, tt.want, tt.notes)
			}
		})
	}
	if _, _, err := plainCommand([]string{"-debug=maybe"}); err == nil || !strings.Contains(err.Error(), "maybe") {
		t.Errorf("-debug=maybe: %v, want an error naming the value", err)
	}
}

func TestNoManagerFoundWithinTimeout(t *testing.T) {
	var stderr bytes.Buffer
	env := &cliEnv{stdout: &bytes.Buffer{}, stderr: &stderr, environ: []string{"CAJON_STATE_DIR=" + t.TempDir()}}
	// The search goes to the LAN's SSDP group: no Manager there answers
	// (one that does would be found, and the test says so).
	for _, cmd := range []string{"register", "flush"} {
		stderr.Reset()
		if code := runCLI(env, []string{cmd, "--timeout", "1500ms"}); code != 1 || !strings.Contains(stderr.String(), "no Flamenco Manager found on the network") {
			t.Errorf("cajon %s without a Manager: exit %d, stderr %q", cmd, code, stderr.String())
		}
	}
}

// startCajon starts the built cajon binary with extra environment.
func startCajon(t *testing.T, exe string, environ []string, args ...string) (*exec.Cmd, *proctest.Output) {
	t.Helper()
	out := &proctest.Output{}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), environ...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		if t.Failed() {
			t.Logf("cajon %s output:\n%s", strings.Join(args, " "), out.String())
		}
	})
	return cmd, out
}

func TestRunDeliversQueuedUpdatesAfterSIGKILL(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGKILL and SIGTERM")
	}
	bin := t.TempDir()
	if err := testbin.Build(bin, "exec", "testkit"); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(bin, "cajon")
	mgr := managertest.New(t, managertest.Config{})
	const lines = 30
	job := mgr.AddJob(managertest.Job{Tasks: []managertest.Task{workertest.ShellTask("printer", workertest.PrinterScript("line ", lines, "0.05"))}})
	id := job.Tasks[0].ID
	state := t.TempDir()
	environ := []string{
		"CAJON_MANAGER_URL=" + mgr.URL(),
		"CAJON_STATE_DIR=" + state,
		"CAJON_MANAGER_WORKER_NAME=sigkill-test",
		"CAJON_MANAGER_MAY_I_RUN_INTERVAL=100ms",
		"CAJON_MANAGER_FETCH_BACKOFF_MAX=200ms",
		"CAJON_MANAGER_REQUEST_TIMEOUT=2s",
		"CAJON_LOG_LEVEL=debug",
	}
	task := func() managertest.TaskState {
		ts, _ := mgr.Task(id)
		return ts
	}

	first, firstOut := startCajon(t, exe, environ) // plain `cajon`: a Manager is configured
	testwait.For(t, "the first lines of the task", func() bool { return strings.Contains(task().Log, "line 2\n") })
	mgr.MustTakeDown(t)
	testwait.For(t, "the task to end while the Manager is down", func() bool {
		return strings.Contains(firstOut.String(), "task completed")
	})
	if err := first.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()

	q, err := updates.Open(context.Background(), updates.Options{Path: worker.QueuePath(state)})
	if err != nil {
		t.Fatal(err)
	}
	queued := q.Pending()
	q.Close()
	if queued == 0 {
		t.Fatal("no updates were queued when the worker was killed; the test proves nothing")
	}
	if err := mgr.ClearFaults(); err != nil {
		t.Fatal(err)
	}

	second, _ := startCajon(t, exe, environ, "run")
	testwait.For(t, "the task to complete", func() bool { return task().Status == managertest.StatusCompleted })
	// The queued updates go out before the sign-on: wait for it, or the
	// SIGTERM below may come while the sign-on is in flight.
	testwait.For(t, "the second run to be awake", func() bool {
		ws := mgr.Workers()
		return len(ws) == 1 && ws[0].Status == managertest.WorkerAwake
	})
	if err := second.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := second.Wait(); err != nil {
		t.Errorf("cajon after SIGTERM: %v, want exit 0", err)
	}

	ts := task()
	if got := ts.Statuses(); !slices.Equal(got, []string{"active", "completed"}) {
		t.Errorf("statuses %v, want [active completed]", got)
	}
	workertest.CheckExactlyOnce(t, ts, "line ", lines)
	if ws := mgr.Workers(); len(ws) != 1 || ws[0].Status != managertest.WorkerOffline {
		t.Errorf("workers %+v, want one, signed off", ws)
	}
	mgr.CheckProtocol(t)
}

func TestRegisterAndFlushCommands(t *testing.T) {
	bin := t.TempDir()
	if err := testbin.Build(bin, "exec"); err != nil {
		t.Fatal(err)
	}
	mgr := managertest.New(t, managertest.Config{})
	state := t.TempDir()
	var stdout, stderr bytes.Buffer
	env := &cliEnv{stdout: &stdout, stderr: &stderr, environ: []string{"CAJON_STATE_DIR=" + state}}
	args := []string{"--manager", mgr.URL(), "--plugin-dir", filepath.Join(bin, "plugins"), "--name", "node-7"}

	var ids []string
	for range 2 {
		stdout.Reset()
		if code := runCLI(env, append([]string{"register"}, args...)); code != 0 {
			t.Fatalf("cajon register: exit %d\n%s", code, stderr.String())
		}
		creds, err := worker.LoadCredentials(worker.CredentialsPath(state))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(stdout.String(), creds.WorkerID) {
			t.Errorf("output %q does not name the worker id %s", stdout.String(), creds.WorkerID)
		}
		ids = append(ids, creds.WorkerID)
	}
	ws := mgr.Workers()
	if len(ws) != 2 || ws[0].ID != ids[0] || ws[1].ID != ids[1] || ws[1].Name != "node-7" {
		t.Errorf("workers %+v, want two registrations (%v), the second named node-7", ws, ids)
	}
	if !slices.Equal(ws[1].SupportedTaskTypes, []string{"misc"}) {
		t.Errorf("registered task types %v, want the exec plugin's [misc]", ws[1].SupportedTaskTypes)
	}

	stdout.Reset()
	if code := runCLI(env, []string{"flush", "--manager", mgr.URL()}); code != 0 || !strings.Contains(stdout.String(), "sent 0 queued task updates") {
		t.Errorf("cajon flush of an empty queue: exit %d, output %q\n%s", code, stdout.String(), stderr.String())
	}
}
