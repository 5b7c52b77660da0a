package updates

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/backoff"

	"github.com/hashicorp/go-hclog"
)

// recordingSender stands in for the Manager: it keeps every update it
// accepted, and answers with fail's error when fail returns one.
type recordingSender struct {
	mu       sync.Mutex
	got      []Update
	attempts int
	fail     func(u Update, attempt int) error
}

func (s *recordingSender) SendTaskUpdate(ctx context.Context, u Update) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts++
	if s.fail != nil {
		if err := s.fail(u, s.attempts); err != nil {
			return err
		}
	}
	s.got = append(s.got, u)
	return nil
}

func (s *recordingSender) received() []Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Update(nil), s.got...)
}

// openQueue opens a queue in a fresh directory with short backoffs.
func openQueue(t *testing.T, opts Options) *Queue {
	t.Helper()
	if opts.Path == "" {
		opts.Path = filepath.Join(t.TempDir(), "state", "updates.sqlite")
	}
	if opts.MinBackoff == 0 {
		opts.MinBackoff = time.Millisecond
	}
	if opts.MaxBackoff == 0 {
		opts.MaxBackoff = 5 * time.Millisecond
	}
	q, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

func appendAll(t *testing.T, q *Queue, us []Update) {
	t.Helper()
	for _, u := range us {
		if err := q.Append(context.Background(), u); err != nil {
			t.Fatalf("Append: %v", err)
		}
	}
}

func flush(t *testing.T, q *Queue, s Sender) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := q.Flush(ctx, s); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

// interleaved returns n updates spread over tasks, with a status change now
// and then, each with a log line that names it.
func interleaved(n, tasks int) []Update {
	var us []Update
	for i := range n {
		task := i % tasks
		if i%7 == 3 { // runs of one task, so there is something to merge
			task = (i - 1) % tasks
		}
		u := Update{
			TaskID:         fmt.Sprintf("task-%d", task),
			Activity:       fmt.Sprintf("update %d", i),
			Log:            fmt.Sprintf("line %d", i),
			StepsCompleted: steps(i),
		}
		if i%11 == 0 {
			u.Status = []string{"active", "completed", "failed"}[i%3]
		}
		us = append(us, u)
	}
	return us
}

// logLines returns the log lines in the order they reached the Manager.
func logLines(us []Update) []string {
	var lines []string
	for _, u := range us {
		if u.Log != "" {
			lines = append(lines, strings.Split(strings.TrimSuffix(u.Log, "\n"), "\n")...)
		}
	}
	return lines
}

func TestDeliversInOrderAcrossTasks(t *testing.T) {
	for _, merge := range []int{-1, 0} {
		t.Run(fmt.Sprintf("MergeMaxLogBytes=%d", merge), func(t *testing.T) {
			q := openQueue(t, Options{MergeMaxLogBytes: merge})
			in := interleaved(300, 5)
			appendAll(t, q, in)
			s := &recordingSender{}
			flush(t, q, s)
			got := s.received()
			if merge < 0 && !reflect.DeepEqual(got, in) {
				t.Fatalf("with merging off, the Manager got\n%s\nwant\n%s", describe(got), describe(in))
			}
			if merge == 0 && len(got) >= len(in) {
				t.Errorf("sent %d requests for %d queued updates: nothing was merged", len(got), len(in))
			}
			if !reflect.DeepEqual(logLines(got), logLines(in)) {
				t.Errorf("log lines arrived as %q, want %q", logLines(got), logLines(in))
			}
			if a, b := managerView(in), managerView(got); !reflect.DeepEqual(a, b) {
				t.Errorf("the Manager ends up with\n %s\nwant\n %s", viewText(b), viewText(a))
			}
			if n, err := q.Len(context.Background()); err != nil || n != 0 {
				t.Errorf("Len() = %d, %v after Flush, want 0", n, err)
			}
		})
	}
}

// temporary is a retryable Sender error, like a 503 that asks to come back.
type temporary struct{ after time.Duration }

func (e temporary) Error() string             { return "503 Service Unavailable" }
func (e temporary) RetryAfter() time.Duration { return e.after }

func TestRetriesUntilDelivered(t *testing.T) {
	q := openQueue(t, Options{MergeMaxLogBytes: -1})
	in := interleaved(40, 3)
	appendAll(t, q, in)
	const failures = 5
	s := &recordingSender{fail: func(u Update, attempt int) error {
		// Fail the first attempts, and every update's first try later on.
		if attempt <= failures || attempt%3 == 0 {
			return fmt.Errorf("post task update: %w", temporary{})
		}
		return nil
	}}
	flush(t, q, s)
	if got := s.received(); !reflect.DeepEqual(got, in) {
		t.Fatalf("the Manager got\n%s\nwant each update once, in order:\n%s", describe(got), describe(in))
	}
}

func TestRunDeliversWhatIsAppended(t *testing.T) {
	q := openQueue(t, Options{})
	s := &recordingSender{fail: func(u Update, attempt int) error {
		if attempt%5 == 0 {
			return errors.New("connection reset by peer")
		}
		return nil
	}}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- q.Run(ctx, s) }()

	// Several producers at once, as tasks and the worker would append.
	const producers, each = 4, 50
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			for i := range each {
				u := Update{TaskID: fmt.Sprintf("task-%d", p), Log: fmt.Sprintf("p%d-%d", p, i)}
				if err := q.Append(ctx, u); err != nil {
					t.Errorf("Append: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	waitCtx, waitCancel := context.WithTimeout(ctx, 30*time.Second)
	defer waitCancel()
	if err := q.WaitNotOver(waitCtx, 0); err != nil {
		t.Fatalf("WaitNotOver(0): %v with %d updates still queued", err, q.Pending())
	}
	cancel()
	if err := <-ran; !errors.Is(err, context.Canceled) {
		t.Errorf("Run returned %v, want context.Canceled", err)
	}

	perTask := map[string][]string{}
	for _, line := range logLines(s.received()) {
		task := line[:strings.IndexByte(line, '-')]
		perTask[task] = append(perTask[task], line)
	}
	for p := range producers {
		var want []string
		for i := range each {
			want = append(want, fmt.Sprintf("p%d-%d", p, i))
		}
		if got := perTask[fmt.Sprintf("p%d", p)]; !reflect.DeepEqual(got, want) {
			t.Errorf("producer %d's lines arrived as %q, want %q", p, got, want)
		}
	}
}

func TestDefinitiveAnswersDropTheUpdate(t *testing.T) {
	var logBuf bytes.Buffer
	var gone []string
	q := openQueue(t, Options{
		MergeMaxLogBytes: -1,
		Logger:           hclog.New(&hclog.LoggerOptions{Output: &logBuf, Level: hclog.Info}),
		OnTaskGone:       func(id string) { gone = append(gone, id) },
	})
	in := []Update{
		{TaskID: "ours", Log: "1"},
		{TaskID: "reassigned", Status: "completed"},
		{TaskID: "ours", Log: "2"},
		{TaskID: "malformed", Status: "not-a-status", Log: "the log of a bad update"},
		{TaskID: "ours", Status: "completed"},
	}
	appendAll(t, q, in)
	s := &recordingSender{fail: func(u Update, _ int) error {
		switch u.TaskID {
		case "reassigned":
			return fmt.Errorf("409 Conflict: %w", ErrTaskGone)
		case "malformed":
			return fmt.Errorf("400 Bad Request: %w", ErrRejected)
		}
		return nil
	}}
	flush(t, q, s)

	want := []Update{in[0], in[2], in[4]}
	if got := s.received(); !reflect.DeepEqual(got, want) {
		t.Errorf("delivered\n%s\nwant\n%s", describe(got), describe(want))
	}
	if !reflect.DeepEqual(gone, []string{"reassigned"}) {
		t.Errorf("OnTaskGone called with %q, want [reassigned]", gone)
	}
	// The rejected one is tried without its log, then with its status
	// alone; the one that is gone is not tried again.
	if s.attempts != len(in)+2 {
		t.Errorf("%d send attempts for %d updates, want %d: a definitive answer was retried", s.attempts, len(in), len(in)+2)
	}
	logged := logBuf.String()
	for _, want := range []string{"BUG", "malformed", "not-a-status", "the log of a bad update"} {
		if !strings.Contains(logged, want) {
			t.Errorf("log lacks %q:\n%s", want, logged)
		}
	}
	if n, _ := q.Len(context.Background()); n != 0 {
		t.Errorf("Len() = %d after Flush, want 0", n)
	}
}

func TestReopenKeepsUndelivered(t *testing.T) {
	path := filepath.Join(t.TempDir(), "updates.sqlite")
	q := openQueue(t, Options{Path: path, MergeMaxLogBytes: -1})
	in := interleaved(20, 2)
	appendAll(t, q, in)
	// Deliver part of it, then the Manager goes down and the worker stops.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := &recordingSender{fail: func(u Update, attempt int) error {
		if attempt > 5 {
			cancel()
			return errors.New("manager down")
		}
		return nil
	}}
	if err := q.Flush(ctx, s); err == nil || !strings.Contains(err.Error(), "15 updates still queued") {
		t.Fatalf("Flush against a failing Manager = %v, want an error counting 15 updates still queued", err)
	}
	if err := q.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	q = openQueue(t, Options{Path: path, MergeMaxLogBytes: -1})
	if n, err := q.Len(context.Background()); err != nil || n != 15 || q.Pending() != 15 {
		t.Fatalf("after reopening: Len() = %d, %v and Pending() = %d, want 15", n, err, q.Pending())
	}
	s2 := &recordingSender{}
	flush(t, q, s2)
	if got := append(s.received(), s2.received()...); !reflect.DeepEqual(got, in) {
		t.Errorf("across the restart the Manager got\n%s\nwant\n%s", describe(got), describe(in))
	}
}

// crashChildEnv names the queue file a child test process appends to until
// it is killed.
const crashChildEnv = "CAJON_UPDATES_CRASH_CHILD"

// TestCrashChild is the child of TestSurvivesSIGKILL: it appends numbered
// updates forever and prints each number once Append has returned.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashChildEnv)
	if path == "" {
		t.Skip("runs only as the child process of TestSurvivesSIGKILL")
	}
	q, err := Open(context.Background(), Options{Path: path})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	for i := 0; ; i++ {
		if err := q.Append(context.Background(), Update{TaskID: "task", Log: strconv.Itoa(i), StepsCompleted: steps(i)}); err != nil {
			fmt.Println("append:", err)
			os.Exit(2)
		}
		fmt.Println(i)
	}
}

func TestSurvivesSIGKILL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "updates.sqlite")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	const enough = 300
	acked := -1
	lines := bufio.NewScanner(out)
	for acked < enough && lines.Scan() {
		n, err := strconv.Atoi(lines.Text())
		if err != nil {
			cmd.Process.Kill()
			t.Fatalf("child said %q", lines.Text())
		}
		acked = n
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL, mid-append
		t.Fatal(err)
	}
	if acked < enough {
		t.Fatalf("child stopped after %d appends", acked+1)
	}
	// The child runs ahead of this reader: what it acknowledged before the
	// kill is still in the pipe.
	for lines.Scan() {
		if n, err := strconv.Atoi(lines.Text()); err == nil {
			acked = n
		}
	}
	cmd.Wait()

	q := openQueue(t, Options{Path: path, MergeMaxLogBytes: -1})
	s := &recordingSender{}
	flush(t, q, s)
	got := s.received()
	// Every acknowledged update is there, in order; the one being appended
	// when the child died may or may not be.
	if len(got) < acked+1 || len(got) > acked+2 {
		t.Fatalf("found %d updates after the crash, %d were acknowledged", len(got), acked+1)
	}
	for i, u := range got {
		if u.Log != strconv.Itoa(i) {
			t.Fatalf("update %d after the crash has log %q, want %q", i, u.Log, strconv.Itoa(i))
		}
	}
}

func TestCorruptFileIsMovedAside(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(t *testing.T, path string)
	}{
		{
			name: "not a database",
			spoil: func(t *testing.T, path string) {
				writeFile(t, path, bytes.Repeat([]byte("this is not an SQLite file\n"), 1000))
			},
		},
		{
			name: "damaged pages",
			spoil: func(t *testing.T, path string) {
				q, err := Open(context.Background(), Options{Path: path})
				if err != nil {
					t.Fatal(err)
				}
				appendAll(t, q, interleaved(2000, 3))
				if err := q.Close(); err != nil {
					t.Fatal(err)
				}
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if len(data) < 6*4096 {
					t.Fatalf("database is only %d bytes", len(data))
				}
				copy(data[2*4096:5*4096], bytes.Repeat([]byte{0xA5}, 3*4096))
				writeFile(t, path, data)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "updates.sqlite")
			tt.spoil(t, path)

			var logBuf bytes.Buffer
			q := openQueue(t, Options{Path: path, Logger: hclog.New(&hclog.LoggerOptions{Output: &logBuf})})
			if !strings.Contains(logBuf.String(), "corrupt") {
				t.Errorf("no warning about the corrupt file; log:\n%s", logBuf.String())
			}
			moved, _ := filepath.Glob(path + ".corrupt-*")
			if len(moved) == 0 {
				t.Fatalf("no %s.corrupt-* file", path)
			}
			if n, err := q.Len(context.Background()); err != nil || n != 0 {
				t.Fatalf("fresh queue: Len() = %d, %v", n, err)
			}
			appendAll(t, q, []Update{{TaskID: "t", Status: "completed"}})
			s := &recordingSender{}
			flush(t, q, s)
			if len(s.received()) != 1 {
				t.Errorf("the fresh queue delivered %d updates, want 1", len(s.received()))
			}
		})
	}
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestUnreadableFileIsNotMovedAside(t *testing.T) {
	// A directory where the file should be: an admin's problem to fix, not
	// corruption, so Open fails and names the path.
	path := filepath.Join(t.TempDir(), "updates.sqlite")
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), Options{Path: path})
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open on a directory = %v, want an error naming %s", err, path)
	}
	if moved, _ := filepath.Glob(path + ".corrupt-*"); len(moved) != 0 {
		t.Errorf("moved aside: %q", moved)
	}
}

func TestBackpressure(t *testing.T) {
	q := openQueue(t, Options{})
	appendAll(t, q, interleaved(6, 1))
	if !q.Over(5) || q.Over(6) {
		t.Errorf("with 6 queued: Over(5) = %v, Over(6) = %v", q.Over(5), q.Over(6))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := q.WaitNotOver(ctx, 5); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitNotOver(5) with 6 queued and no sender = %v, want a deadline error", err)
	}

	runCtx, stop := context.WithCancel(context.Background())
	defer stop()
	go q.Run(runCtx, &recordingSender{})
	waitCtx, waitCancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer waitCancel()
	if err := q.WaitNotOver(waitCtx, 0); err != nil {
		t.Fatalf("WaitNotOver(0) with a sender running: %v", err)
	}
	if q.Over(0) {
		t.Errorf("Over(0) after the queue drained")
	}
}

func TestCloseStopsRun(t *testing.T) {
	q := openQueue(t, Options{})
	ran := make(chan error, 1)
	go func() { ran <- q.Run(context.Background(), &recordingSender{}) }()
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-ran; !errors.Is(err, ErrClosed) {
		t.Errorf("Run after Close returned %v, want ErrClosed", err)
	}
	if err := q.Append(context.Background(), Update{TaskID: "t"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}
}

func TestRetry(t *testing.T) {
	r := &retry{wait: backoff.Backoff{Min: 100 * time.Millisecond, Max: time.Second, Jitter: retryJitter}, log: hclog.NewNullLogger()}
	plain := errors.New("connection refused")
	step := r.wait.Min
	for i := range 8 {
		d := r.after(plain)
		spread := time.Duration(float64(step) * retryJitter)
		if d < step-spread || d > step+spread {
			t.Errorf("failure %d: waits %v, want %v ±%v", i+1, d, step, spread)
		}
		step = min(2*step, r.wait.Max)
	}
	if d := r.after(fmt.Errorf("wrapped: %w", temporary{after: 7 * time.Second})); d != 7*time.Second {
		t.Errorf("with Retry-After 7s: waits %v", d)
	}
	if d := r.after(temporary{after: 24 * time.Hour}); d != backoff.MaxRetryAfter {
		t.Errorf("with Retry-After 24h: waits %v, want the cap %v", d, backoff.MaxRetryAfter)
	}
	if r.failures() != 10 {
		t.Errorf("failures() = %d, want 10", r.failures())
	}
	r.reset()
	if d := r.after(plain); d > r.wait.Min+time.Duration(float64(r.wait.Min)*retryJitter) {
		t.Errorf("after reset: waits %v, want about %v", d, r.wait.Min)
	}
}

// refuseWrites makes the queue's database read-only, as a full disk would
// (one connection, so the pragma holds for every statement).
func refuseWrites(t *testing.T, q *Queue, refuse bool) {
	t.Helper()
	v := "0"
	if refuse {
		v = "1"
	}
	if _, err := q.db.Exec("PRAGMA query_only = " + v); err != nil {
		t.Fatal(err)
	}
}

func TestDiskRefusingWritesLosesNothing(t *testing.T) {
	q := openQueue(t, Options{MergeMaxLogBytes: -1})
	mk := func(log, status string) Update { return Update{TaskID: "t", Log: log, Status: status} }
	appendAll(t, q, []Update{mk("on disk 1", "active"), mk("on disk 2", "")})

	refuseWrites(t, q, true)
	for _, u := range []Update{mk("held 1", ""), mk("held 2", "")} {
		if err := q.Append(context.Background(), u); !errors.Is(err, ErrNotDurable) {
			t.Fatalf("Append with the disk refusing: %v, want ErrNotDurable", err)
		}
	}
	if q.Pending() != 4 {
		t.Fatalf("pending %d, want 4", q.Pending())
	}
	refuseWrites(t, q, false)
	// The next append moves the held updates back to disk first.
	appendAll(t, q, []Update{mk("after", "")})
	refuseWrites(t, q, true)
	if err := q.Append(context.Background(), mk("", "completed")); !errors.Is(err, ErrNotDurable) {
		t.Fatalf("final status: %v", err)
	}
	// The disk still refuses writes while the Manager gets everything: the
	// sender cannot delete what it delivered, and must not send it twice.
	s := &recordingSender{}
	flush(t, q, s)
	var got []string
	for _, u := range s.received() {
		got = append(got, u.Log+u.Status)
	}
	want := "on disk 1active|on disk 2|held 1|held 2|after|completed"
	if strings.Join(got, "|") != want {
		t.Fatalf("delivered %q, want %q", strings.Join(got, "|"), want)
	}
	if n, err := q.Len(context.Background()); q.Pending() != 0 || err != nil || n != 0 {
		t.Fatalf("pending %d, len %d (%v) after flush", q.Pending(), n, err)
	}
	// Once the disk takes writes again, the delivered rows are deleted.
	refuseWrites(t, q, false)
	appendAll(t, q, []Update{mk("later", "")})
	flush(t, q, s)
	var rows int
	if err := q.db.QueryRow(`SELECT count(*) FROM task_updates`).Scan(&rows); err != nil || rows != 0 {
		t.Fatalf("%d delivered rows left on disk (%v)", rows, err)
	}
	if got := len(s.received()); got != 7 {
		t.Fatalf("%d updates delivered, want 7 (each once)", got)
	}
}

// An emptied table hands out row ids from 1 again: those rows are new.
func TestRowIDsReusedAfterDrainAreDelivered(t *testing.T) {
	q := openQueue(t, Options{MergeMaxLogBytes: -1})
	s := &recordingSender{}
	for round := range 3 {
		appendAll(t, q, []Update{{TaskID: "t", Log: fmt.Sprint("a", round)}, {TaskID: "t", Log: fmt.Sprint("b", round)}})
		flush(t, q, s)
	}
	if got := logLines(s.received()); strings.Join(got, ",") != "a0,b0,a1,b1,a2,b2" {
		t.Fatalf("delivered %v", got)
	}
}
