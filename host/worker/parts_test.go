package worker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/config"
	"github.com/cajonfarm/cajon/host/flamenco"
	"github.com/cajonfarm/cajon/host/logstore"
	"github.com/cajonfarm/cajon/host/task"
	"github.com/cajonfarm/cajon/host/updates"
	"github.com/cajonfarm/cajon/internal/managertest"
	"github.com/cajonfarm/cajon/internal/testwait"
)

func TestCredentials(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "creds.json")
	if _, err := LoadCredentials(path); !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("missing file: %v, want ErrNoCredentials", err)
	}
	want := Credentials{WorkerID: "w-1", Secret: "s3cret", Manager: "http://m:8080", Name: "node", RegisteredAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	if err := SaveCredentials(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := LoadCredentials(path)
	if err != nil || got != want {
		t.Fatalf("round trip: %+v, %v; want %+v", got, err, want)
	}
	if runtime.GOOS != "windows" {
		if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
			t.Errorf("mode %v, want 0600", fi.Mode().Perm())
		}
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadCredentials(path); err != nil {
			t.Fatal(err)
		}
		if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
			t.Errorf("a world-readable file was left at mode %v, want 0600", fi.Mode().Perm())
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left beside the credentials: %v", entries)
	}

	for name, content := range map[string]string{
		"garbage":   "not json",
		"no secret": `{"worker_id": "x"}`,
		"no id":     `{"secret": "x"}`,
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := LoadCredentials(p)
		if err == nil || errors.Is(err, ErrNoCredentials) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v, want one naming the file", name, err)
		}
	}
}

func TestTaskTypesToAsk(t *testing.T) {
	tests := []struct {
		name                               string
		provided, configured, want, labels []string
	}{
		{"none configured: the plugins' types", []string{"misc", "blender"}, nil, []string{"blender", "misc"}, nil},
		{"configured narrows", []string{"misc", "blender", "ffmpeg"}, []string{"ffmpeg", "blender"}, []string{"blender", "ffmpeg"}, nil},
		{"a routing label is asked for", []string{"misc"}, []string{"misc", "blender-gpu"}, []string{"blender-gpu", "misc"}, []string{"blender-gpu"}},
		{"labels only", nil, []string{"blender", "blender"}, []string{"blender"}, []string{"blender"}},
		{"duplicates once", []string{"misc", "misc"}, nil, []string{"misc"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, labels := taskTypesToAsk(tt.provided, tt.configured)
			if !slices.Equal(got, tt.want) || !slices.Equal(labels, tt.labels) {
				t.Errorf("taskTypesToAsk(%v, %v) = %v, %v; want %v, %v", tt.provided, tt.configured, got, labels, tt.want, tt.labels)
			}
		})
	}
}

// previewFile writes a preview image where a render plugin would.
func previewFile(t *testing.T, root, name string) string {
	t.Helper()
	p := filepath.Join(root, "cajon-preview", "run-1", name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("jpeg:"+name), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// exists reports whether a file is still there.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// newIdleWorker is a Worker with credentials the Manager knows, not running:
// for testing its parts.
func newIdleWorker(t *testing.T, mgr *managertest.Manager) *Worker {
	t.Helper()
	cfg := config.Defaults()
	cfg.StateDir = t.TempDir()
	cfg.Manager.URL = mgr.URL()
	cfg.Manager.WorkerName = "parts"
	w, err := New(Options{Config: &cfg, Runner: nopRunner{}, Plugins: miscPlugins{},
		Timings: Timings{PreviewBackoffMax: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	secret := newSecret()
	w.setCredentials(Credentials{WorkerID: mgr.AddWorker("parts", secret, "misc"), Secret: secret})
	q, err := updates.Open(context.Background(), updates.Options{Path: QueuePath(cfg.StateDir)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	w.queue = q
	return w
}

// miscPlugins stands for plugins of task type misc, none running.
type miscPlugins struct{}

func (miscPlugins) TaskTypes() []string { return []string{"misc"} }
func (miscPlugins) Running() []string   { return nil }

// oneTask is a job of one task, for the parts that report about a task.
func oneTask(mgr *managertest.Manager) managertest.Job {
	return mgr.AddJob(managertest.Job{Tasks: []managertest.Task{{Name: "t", Type: "misc", Commands: []managertest.Command{
		{Name: "echo", Parameters: map[string]any{"message": "x"}},
	}}}})
}

func TestPreviewLatestWins(t *testing.T) {
	mgr := managertest.New(t, managertest.Config{OutputQueueSize: 1})
	job := oneTask(mgr)
	w := newIdleWorker(t, mgr)
	root := t.TempDir()
	a, b, c := previewFile(t, root, "a.jpg"), previewFile(t, root, "b.jpg"), previewFile(t, root, "c.jpg")

	mgr.HoldOutputs(true) // the Manager's thumbnail queue (1) fills up
	p := newPreviewUploader(w, job.Tasks[0].ID)
	p.offer(a, "image/jpeg")
	testwait.For(t, "the first image", func() bool { return len(mgr.Outputs()) == 1 })
	p.offer(b, "image/jpeg")
	testwait.For(t, "a 429", func() bool { return mgr.RequestCount(managertest.OpOutputProduced, "") >= 2 })
	p.offer(c, "image/jpeg")
	mgr.HoldOutputs(false)
	testwait.For(t, "the latest image", func() bool { return len(mgr.Outputs()) >= 2 })
	p.stop()

	var got []string
	for _, o := range mgr.Outputs() {
		got = append(got, string(o.Data))
		if o.ContentType != "image/jpeg" {
			t.Errorf("content type %q", o.ContentType)
		}
	}
	if want := []string{"jpeg:a.jpg", "jpeg:c.jpg"}; !slices.Equal(got, want) {
		t.Errorf("accepted images %q, want %q (b was superseded while the Manager was full)", got, want)
	}
	for _, f := range []string{a, b, c} {
		if exists(f) {
			t.Errorf("preview %s was not deleted", f)
		}
	}
}

func TestPreviewsAtTaskEnd(t *testing.T) {
	mgr := managertest.New(t, managertest.Config{})
	job := oneTask(mgr)
	w := newIdleWorker(t, mgr)
	root := t.TempDir()
	preview := previewFile(t, root, "0001-frame.jpg")
	frame := filepath.Join(root, "frame-0001.jpg") // an output, not a preview: left alone
	if err := os.WriteFile(frame, []byte("frame"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := w.newReporter(taskOf(&flamenco.AssignedTask{UUID: job.Tasks[0].ID, Job: job.ID}))
	r.Output(frame, "image/jpeg")
	r.Output(preview, "image/jpeg")
	r.finish(flamenco.TaskCompleted, "")
	if outs := mgr.Outputs(); len(outs) != 1 || string(outs[0].Data) != "jpeg:0001-frame.jpg" {
		t.Errorf("outputs %+v, want the one preview, sent before the task ended", outs)
	}
	if exists(preview) || !exists(frame) {
		t.Errorf("after the task: preview exists=%v (want deleted), frame exists=%v (want kept)", exists(preview), exists(frame))
	}

	// A preview reported after the end is deleted unsent.
	late := previewFile(t, root, "0002-frame.jpg")
	r.Output(late, "image/jpeg")
	if exists(late) || len(mgr.Outputs()) != 1 {
		t.Errorf("a preview after the end: exists=%v, outputs %d", exists(late), len(mgr.Outputs()))
	}
}

// nopRunner is a task.Executor for tests that do not run tasks.
type nopRunner struct{}

func (nopRunner) Run(context.Context, task.Task, task.Reporter) task.Outcome { return task.Outcome{} }

func TestReporterBatchesAndLimits(t *testing.T) {
	mgr := managertest.New(t, managertest.Config{})
	w := newIdleWorker(t, mgr)
	logs, err := logstore.Open(LogDir(w.cfg.StateDir), logstore.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	w.logs = logs
	w.cfg.MaxLogBytes = 10_000
	w.tm.LogBatch = time.Hour // only size and the end of the task flush

	r := w.newReporter(taskOf(&flamenco.AssignedTask{UUID: "task-1", Job: "job-1"}))
	r.begin()
	const n = 5000
	for i := range n {
		r.Log([]string{strings.Repeat("x", 20) + " line " + strconv.Itoa(i)})
	}
	r.Progress(1, "rendering")
	r.finish(flamenco.TaskCompleted, "")

	var got []updates.Update
	rec := recordSender{out: &got}
	if err := w.queue.Flush(context.Background(), &rec); err != nil {
		t.Fatal(err)
	}
	// Merging on delivery would hide the batching: count the queued rows.
	if rec.calls > 5 {
		t.Errorf("%d log lines became %d requests; want them batched", n, rec.calls)
	}
	var log strings.Builder
	for _, u := range got {
		log.WriteString(u.Log)
		log.WriteString("\n")
	}
	text := log.String()
	if len(text) > 10_000+300 {
		t.Errorf("the Manager got %d log bytes, over the 10000-byte budget", len(text))
	}
	if !strings.Contains(text, "left out of this log; the full log is on the worker at ") {
		t.Errorf("no truncation marker in the log sent:\n%.500s", text)
	}
	if !strings.Contains(text, " line 0\n") || !strings.Contains(text, " line "+strconv.Itoa(n-1)+"\n") {
		t.Errorf("the log sent lacks its head or its tail")
	}
	if last := got[len(got)-1]; last.Status != "completed" || last.StepsCompleted == nil || *last.StepsCompleted != 1 {
		t.Errorf("last update %+v, want completed with 1 step", last)
	}
	full, err := logs.Tail("job-1", "task-1", n+10)
	if err != nil {
		t.Fatal(err)
	}
	if len(full) != n {
		t.Errorf("the full log on disk has %d lines, want %d", len(full), n)
	}
}

// TestBlankLinesReachTheManager: what the Manager's log shows (each update's
// log appended, a newline added where one lacks, an empty log skipped, as
// the real Manager does) is the local log, line for line, blank lines at the
// start, the end or the whole of a batch included.
func TestBlankLinesReachTheManager(t *testing.T) {
	batches := [][]string{
		{"", "first after a blank"},
		{""},
		{"", ""},
		{"middle", ""},
		{"last", "", ""},
	}
	for _, limit := range []int64{0, 10_000} {
		t.Run(fmt.Sprintf("max_log_bytes %d", limit), func(t *testing.T) {
			mgr := managertest.New(t, managertest.Config{})
			w := newIdleWorker(t, mgr)
			logs, err := logstore.Open(LogDir(w.cfg.StateDir), logstore.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			w.logs = logs
			w.cfg.MaxLogBytes = limit
			w.tm.LogBatch = time.Hour
			r := w.newReporter(taskOf(&flamenco.AssignedTask{UUID: "task-1", Job: "job-1"}))
			r.batchBytes = 1 // each Log call is a batch of its own
			r.begin()
			var want strings.Builder
			for _, b := range batches {
				r.Log(b)
				for _, l := range b {
					want.WriteString(l + "\n")
				}
			}
			r.finish(flamenco.TaskCompleted, "")

			var got []updates.Update
			if err := w.queue.Flush(context.Background(), &recordSender{out: &got}); err != nil {
				t.Fatal(err)
			}
			var manager strings.Builder
			for _, u := range got {
				if u.Log == "" {
					continue
				}
				manager.WriteString(u.Log)
				if !strings.HasSuffix(u.Log, "\n") {
					manager.WriteString("\n")
				}
			}
			if manager.String() != want.String() {
				t.Errorf("the Manager's log is %q, want %q", manager.String(), want.String())
			}
			local, err := logs.Tail("job-1", "task-1", 100)
			if err != nil {
				t.Fatal(err)
			}
			if text := strings.Join(local, "\n") + "\n"; text != want.String() {
				t.Errorf("the local log is %q, want %q", text, want.String())
			}
		})
	}
}

// recordSender collects what Flush sends.
type recordSender struct {
	out   *[]updates.Update
	calls int
}

func (s *recordSender) SendTaskUpdate(_ context.Context, u updates.Update) error {
	s.calls++
	*s.out = append(*s.out, u)
	return nil
}
