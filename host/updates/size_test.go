package updates

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// numberedLog is n lines "line <i>" of about 100 bytes each.
func numberedLog(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "line %d %s\n", i, strings.Repeat("x", 90))
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// proxy is a Sender behind a body limit: a request with more than limit
// bytes of log gets ErrTooLarge, as a 413 from nginx.
func proxy(limit int) func(u Update, _ int) error {
	return func(u Update, _ int) error {
		if len(u.Log) > limit {
			return fmt.Errorf("413 Request Entity Too Large: %w", ErrTooLarge)
		}
		return nil
	}
}

// checkDelivered checks that the Manager's view of what s received is the
// view of want, and that every request's log is at most maxLog bytes.
func checkDelivered(t *testing.T, s *recordingSender, want []Update, maxLog int) {
	t.Helper()
	got := s.received()
	last := map[string]Update{} // each task's last request
	for i, u := range got {
		if len(u.Log) > maxLog {
			t.Errorf("request %d carried %d bytes of log, over %d", i, len(u.Log), maxLog)
		}
		last[u.TaskID] = u
	}
	// Each task's final status comes after all of its log.
	final := map[string]string{}
	for _, u := range want {
		if u.Status != "" {
			final[u.TaskID] = u.Status
		}
	}
	for id, status := range final {
		if last[id].Status != status {
			t.Errorf("task %s: the last request %s is not its final status %q", id, describe([]Update{last[id]}), status)
		}
	}
	// Compared as views, not as text: a task's view does not depend on
	// where the other tasks are.
	if g, w := managerView(got), managerView(want); !reflect.DeepEqual(g, w) {
		t.Errorf("the Manager has\n%s\nwant\n%s", viewText(g), viewText(w))
	}
}

func TestLongLogIsQueuedInPieces(t *testing.T) {
	const piece = 4 << 10
	q := openQueue(t, Options{MaxRequestLogBytes: piece})
	in := []Update{
		{TaskID: "t", Status: "active"},
		{TaskID: "t", Log: numberedLog(20)},
		{TaskID: "t", Status: "completed", Activity: "done", StepsCompleted: steps(1), Log: numberedLog(500)},
	}
	appendAll(t, q, in)
	if n, _ := q.Len(context.Background()); n < 2+500*100/piece {
		t.Errorf("%d rows queued, want the long log in pieces of %d bytes", n, piece)
	}
	s := &recordingSender{}
	flush(t, q, s)
	checkDelivered(t, s, in, piece)
}

func Test413MakesPiecesSmaller(t *testing.T) {
	var logBuf bytes.Buffer
	// No cap of its own, as a queue written by an older Cajon: the first
	// request carries the whole log and meets the proxy's limit.
	q := openQueue(t, Options{Logger: hclog.New(&hclog.LoggerOptions{Output: &logBuf})})
	const limit = 3000
	in := []Update{
		{TaskID: "t", Status: "active"},
		{TaskID: "t", Status: "completed", Log: numberedLog(400)},
		{TaskID: "t2", Log: numberedLog(100)},
		{TaskID: "t2", Status: "failed", Log: numberedLog(100)},
	}
	appendAll(t, q, in)
	s := &recordingSender{fail: proxy(limit)}
	flush(t, q, s)
	checkDelivered(t, s, in, limit)
	refused := s.attempts - len(s.received())
	if refused == 0 || refused > 6 {
		t.Errorf("%d requests refused as too large, want a few (the pieces halve until they fit, then stay small)", refused)
	}
	if !strings.Contains(logBuf.String(), "client_max_body_size") {
		t.Errorf("no warning tells the admin about the body limit:\n%s", logBuf.String())
	}
}

// Many tasks through the 413 path: each one's log arrives whole and once, and
// before its final status, wherever the other tasks' requests fall.
func Test413KeepsEveryTasksView(t *testing.T) {
	q := openQueue(t, Options{})
	const tasks = 16
	id := func(i int) string { return fmt.Sprintf("task-%02d", i) }
	var in []Update
	for i := range tasks { // all started, then each one's log and end merge
		in = append(in, Update{TaskID: id(i), Status: "active"})
	}
	for i := range tasks {
		in = append(in,
			Update{TaskID: id(i), Log: numberedLog(30 + i)},
			Update{TaskID: id(i), Status: "completed", Log: numberedLog(10)},
		)
	}
	appendAll(t, q, in)
	s := &recordingSender{fail: proxy(3000)}
	flush(t, q, s)
	checkDelivered(t, s, in, 3000)
}

func TestPiecesAreNotSentTwiceAfterAFailure(t *testing.T) {
	q := openQueue(t, Options{})
	in := []Update{{TaskID: "t", Status: "completed", Log: numberedLog(400)}}
	appendAll(t, q, in)
	failed := false
	s := &recordingSender{fail: func(u Update, attempt int) error {
		if err := proxy(3000)(u, attempt); err != nil {
			return err
		}
		if !failed && u.Log != "" && attempt > 8 {
			failed = true
			return errors.New("connection reset by peer")
		}
		return nil
	}}
	flush(t, q, s)
	if !failed {
		t.Fatal("no send failed: the test proves nothing")
	}
	checkDelivered(t, s, in, 3000)
}

func TestRefusedLogIsReplacedByANote(t *testing.T) {
	var logBuf bytes.Buffer
	q := openQueue(t, Options{
		MaxRequestLogBytes: 64 << 10,
		Logger:             hclog.New(&hclog.LoggerOptions{Output: &logBuf}),
		FullLog:            func(id string) string { return "/var/lib/cajon/task-logs/job/" + id + ".log" },
	})
	in := []Update{
		{TaskID: "t", Status: "active"},
		{TaskID: "t", Status: "completed", Activity: "done", Log: numberedLog(100)},
		{TaskID: "next", Status: "active"},
	}
	appendAll(t, q, in)
	// A proxy that refuses anything but a few hundred bytes.
	s := &recordingSender{fail: proxy(400)}
	flush(t, q, s)
	got := s.received()
	if len(got) != 3 || got[1].Status != "completed" || got[1].Activity != "done" || got[2].TaskID != "next" {
		t.Fatalf("delivered %s; want active, completed (without the log), then the next task", describe(got))
	}
	if !strings.Contains(got[1].Log, "/var/lib/cajon/task-logs/job/t.log") || !strings.Contains(got[1].Log, "too large") {
		t.Errorf("the note %q does not say why the log is missing and where it is", got[1].Log)
	}
	for _, want := range []string{"[ERROR]", "task=t", "log_bytes_not_delivered=", "/var/lib/cajon/task-logs/job/t.log"} {
		if !strings.Contains(logBuf.String(), want) {
			t.Errorf("the queue's log lacks %q:\n%s", want, logBuf.String())
		}
	}
}

func TestRefusedStatusIsDroppedWithAnError(t *testing.T) {
	var logBuf bytes.Buffer
	q := openQueue(t, Options{Logger: hclog.New(&hclog.LoggerOptions{Output: &logBuf})})
	in := []Update{
		{TaskID: "doomed", Status: "completed", Activity: "done", Log: "the end"},
		{TaskID: "next", Status: "active"},
	}
	appendAll(t, q, in)
	s := &recordingSender{fail: func(u Update, _ int) error {
		if u.TaskID == "doomed" {
			return fmt.Errorf("413: %w", ErrTooLarge)
		}
		return nil
	}}
	flush(t, q, s)
	// The whole update, then without its log (a note), then its status alone.
	if got := s.received(); len(got) != 1 || got[0].TaskID != "next" || s.attempts != 4 {
		t.Fatalf("delivered %s in %d attempts; want only the next task's, after 3 attempts at the refused one", describe(got), s.attempts)
	}
	for _, want := range []string{"[ERROR]", "dropped", "task=doomed", "status=completed"} {
		if !strings.Contains(logBuf.String(), want) {
			t.Errorf("the queue's log lacks %q:\n%s", want, logBuf.String())
		}
	}
}

func TestFilesArePrivate(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no mode bits")
	}
	dir := filepath.Join(t.TempDir(), "state")
	path := filepath.Join(dir, "task-updates.sqlite")
	q := openQueue(t, Options{Path: path})
	appendAll(t, q, []Update{{TaskID: "t", Log: "secret render path"}})
	checkMode := func(p string, want os.FileMode) {
		t.Helper()
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s has mode %04o, want %04o", p, got, want)
		}
	}
	checkMode(dir, 0o700)
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		checkMode(p, 0o600)
	}
	q.Close()

	// Files an older Cajon left readable are made private at the next start.
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o644); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
	q = openQueue(t, Options{Path: path})
	checkMode(path, 0o600)
	if n, _ := q.Len(context.Background()); n != 1 {
		t.Errorf("%d updates queued after reopening, want 1", n)
	}
}
