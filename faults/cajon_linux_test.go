package faults

import (
	"database/sql"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/worker"
	"github.com/cajonfarm/cajon/internal/managertest"
	"github.com/cajonfarm/cajon/internal/proctest"
	_ "modernc.org/sqlite" // the queue's SQLite driver, to read a queue file as it is on disk
)

// cajonProcess is the real cajon binary running as a child of the test.
type cajonProcess struct {
	cmd  *exec.Cmd
	out  *proctest.Output
	done chan struct{}
	err  error
}

// cajonEnv is the environment of a cajon working for mgr from state: short
// intervals, debug log, plugins from beside the binary.
func cajonEnv(mgr *managertest.Manager, state string) []string {
	return []string{
		"CAJON_MANAGER_URL=" + mgr.URL(),
		"CAJON_STATE_DIR=" + state,
		"CAJON_MANAGER_WORKER_NAME=faults-cajon",
		"CAJON_MANAGER_MAY_I_RUN_INTERVAL=100ms",
		"CAJON_MANAGER_FETCH_BACKOFF_MAX=200ms",
		"CAJON_MANAGER_REQUEST_TIMEOUT=2s",
		"CAJON_KILL_GRACE=300ms",
		"CAJON_LOG_LEVEL=debug",
	}
}

// startCajon starts bin/cajon with args and extra environment. fsize > 0
// runs it under RLIMIT_FSIZE = fsize bytes, and nofileEnv=N in environ under
// RLIMIT_NOFILE = N (through the test binary's launcher mode). It is killed when the test ends, if still running.
func startCajon(t testing.TB, environ []string, fsize int64, args ...string) *cajonProcess {
	t.Helper()
	argv := append([]string{filepath.Join(binDir, "cajon")}, args...)
	var cmd *exec.Cmd
	// Limits are set by the test binary as a launcher (execWithLimits).
	limited := slices.ContainsFunc(environ, func(kv string) bool { return strings.HasPrefix(kv, nofileEnv+"=") })
	if fsize > 0 || limited {
		self, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		cmd = exec.Command(self, argv...)
		if fsize > 0 {
			environ = append(environ, fsizeEnv+"="+strconv.FormatInt(fsize, 10))
		}
	} else {
		cmd = exec.Command(argv[0], argv[1:]...)
	}
	cmd.Env = append(os.Environ(), environ...)
	p := &cajonProcess{cmd: cmd, out: &proctest.Output{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		p.err = cmd.Wait()
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("cajon %s output:\n%s", strings.Join(args, " "), tail(p.out.String(), 20000))
		}
	})
	return p
}

// signal sends sig to cajon.
func (p *cajonProcess) signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// wait waits up to limit for cajon to exit and returns its exit code
// (-1: killed by a signal).
func (p *cajonProcess) wait(t testing.TB, limit time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(limit):
		t.Fatalf("cajon did not exit within %s", limit)
	}
	var exit *exec.ExitError
	switch {
	case p.err == nil:
		return 0
	case errors.As(p.err, &exit):
		return exit.ExitCode()
	}
	t.Fatalf("cajon: %v", p.err)
	return 0
}

// queuedRows returns the status and log of every update in the queue file
// of state, in delivery order, as they are on disk. It reads the live file
// through SQLite, read-only: a snapshot of one commit, however the running
// cajon writes and checkpoints meanwhile (copying the file and its WAL one
// after the other can pair a database and a WAL of different moments).
// Read-only, SQLite neither checkpoints nor removes the WAL on close, so the
// next cajon finds the files as the last one left them.
func queuedRows(t testing.TB, state string) (status, log []string) {
	t.Helper()
	path := worker.QueuePath(state)
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT status, log FROM task_updates ORDER BY id`)
	if err != nil {
		t.Fatalf("read the queue file %s: %v", path, err)
	}
	defer rows.Close()
	for rows.Next() {
		var s, l string
		if err := rows.Scan(&s, &l); err != nil {
			t.Fatal(err)
		}
		status, log = append(status, s), append(log, l)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return status, log
}
