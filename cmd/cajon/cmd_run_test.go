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

func TestWithDefaultCommand(t *testing.T) {
	dir := t.TempDir()
	withManager := filepath.Join(dir, "manager.toml")
	if err := os.WriteFile(withManager, []byte("[manager]\nurl = \"http://flamenco:8080\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		environ []string
		args    []string
		want    []string
	}{
		{"no Manager: usage", nil, nil, nil},
		{"Manager from the environment", []string{"CAJON_MANAGER_URL=http://flamenco:8080"}, nil, []string{"run"}},
		{"Manager emptied by the environment", []string{"CAJON_MANAGER_URL="}, nil, nil},
		{"Manager flag", nil, []string{"--manager", "http://m:8080", "--name", "n"}, []string{"run", "--manager", "http://m:8080", "--name", "n"}},
		{"Manager flag with =", nil, []string{"-manager=http://m:8080"}, []string{"run", "-manager=http://m:8080"}},
		{"Manager in a --config file", nil, []string{"--config", withManager}, []string{"run", "--config", withManager}},
		{"Manager in a --config= file", nil, []string{"--config=" + withManager}, []string{"run", "--config=" + withManager}},
		{"flags without a Manager", nil, []string{"--log-level", "debug"}, []string{"--log-level", "debug"}},
		{"a subcommand is kept", []string{"CAJON_MANAGER_URL=http://flamenco:8080"}, []string{"plugins"}, []string{"plugins"}},
		{"help is kept", []string{"CAJON_MANAGER_URL=http://flamenco:8080"}, []string{"--help"}, []string{"--help"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := &cliEnv{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, environ: tt.environ}
			if got := withDefaultCommand(env, tt.args); !slices.Equal(got, tt.want) {
				t.Errorf("withDefaultCommand(%q) = %q, want %q", tt.args, got, tt.want)
			}
		})
	}
}

func TestRunWithoutManagerIsAUsageError(t *testing.T) {
	var stderr bytes.Buffer
	env := &cliEnv{stdout: &bytes.Buffer{}, stderr: &stderr, environ: []string{"CAJON_STATE_DIR=" + t.TempDir()}}
	for _, cmd := range []string{"run", "register", "flush"} {
		stderr.Reset()
		if code := runCLI(env, []string{cmd}); code != 2 || !strings.Contains(stderr.String(), "no Flamenco Manager configured") {
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
