package main

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/cajonfarm/cajon/internal/managertest"
	"github.com/cajonfarm/cajon/internal/testbin"
	"github.com/cajonfarm/cajon/internal/testwait"
)

// `cajon run` keeps file commands in the Manager's shared storage (and the
// temp folder) when files.allowed_roots is not set, and in the set folders
// when it is.
func TestRunKeepsFileCommandsInAllowedRoots(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGTERM")
	}
	bin := t.TempDir()
	if err := testbin.Build(bin, "files"); err != nil {
		t.Fatal(err)
	}
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// The worker's temp folder is allowed too: a folder of its own here,
	// since the test's folders are in the usual one.
	storage, outside, other, tmp := filepath.Join(base, "storage"), filepath.Join(base, "outside"), filepath.Join(base, "other"), filepath.Join(base, "tmp")
	for _, d := range []string{storage, outside, other, tmp} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name    string
		roots   string // CAJON_FILES_ALLOWED_ROOTS; "" = the default
		path    string
		status  string
		message string
	}{
		{"default: inside the shared storage", "", storage + "/a", managertest.StatusCompleted, ""},
		{"default: .. out of it", "", storage + "/../outside/b", managertest.StatusFailed,
			"make-directory: path " + storage + "/../outside/b (that is " + outside + "/b) is outside files.allowed_roots [" + storage + ", " + tmp + "]"},
		{"set: the shared storage is not the default any more", other, storage + "/c", managertest.StatusFailed,
			"is outside files.allowed_roots [" + other + "]"},
		{"set: inside", other, other + "/d", managertest.StatusCompleted, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mgr := managertest.New(t, managertest.Config{SharedStorage: storage, FailAfter: 1})
			job := mgr.AddJob(managertest.Job{Type: "file-test", Tasks: []managertest.Task{{Name: "mkdir", Type: "file-management",
				Commands: []managertest.Command{{Name: "make-directory", Parameters: map[string]any{"path": tc.path}}}}}})
			environ := []string{
				"CAJON_MANAGER_URL=" + mgr.URL(),
				"CAJON_STATE_DIR=" + t.TempDir(),
				"CAJON_MANAGER_WORKER_NAME=roots-test",
				"CAJON_MANAGER_FETCH_BACKOFF_MAX=200ms",
				"CAJON_FILES_ALLOWED_ROOTS=" + tc.roots,
				"TMPDIR=" + tmp,
			}
			cajon, _ := startCajon(t, filepath.Join(bin, "cajon"), environ, "run")
			var ts managertest.TaskState
			testwait.For(t, "the task to end", func() bool {
				ts, _ = mgr.Task(job.Tasks[0].ID)
				return ts.Status == managertest.StatusCompleted || ts.Status == managertest.StatusFailed
			})
			if ts.Status != tc.status || !strings.Contains(ts.Log, tc.message) {
				t.Errorf("task %s %q, want %s %q\nlog:\n%s", ts.Status, ts.Activity, tc.status, tc.message, ts.Log)
			}
			_, err := os.Stat(tc.path)
			if created := err == nil; created != (tc.status == managertest.StatusCompleted) {
				t.Errorf("%s created: %v, want %v", tc.path, created, !created)
			}
			if err := cajon.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if err := cajon.Wait(); err != nil {
				t.Errorf("cajon after SIGTERM: %v", err)
			}
			mgr.CheckProtocol(t)
		})
	}
}
