//go:build unix

package realmanager

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/managerevents"
	"github.com/cajonfarm/cajon/internal/proctest"
	"github.com/cajonfarm/cajon/internal/testwait"
	"github.com/coder/websocket"
)

// recordEnv names the file TestEventStream writes its raw socket.io exchange
// to (internal/flamencotrace/testdata/3.8.5-socketio/echo-sleep-cancel.jsonl).
const recordEnv = "CAJON_RECORD_SOCKETIO"

// recorder is a raw socket.io connection that keeps every frame.
type recorder struct {
	tb     testing.TB
	conn   *websocket.Conn
	start  time.Time
	mu     sync.Mutex
	frames []map[string]any
	note   string
}

func record(tb testing.TB, m *manager) *recorder {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u := "ws" + strings.TrimPrefix(m.URL, "http") + "/socket.io/?EIO=3&transport=websocket"
	conn, _, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		tb.Fatalf("connecting to the Manager's socket.io: %v", err)
	}
	r := &recorder{tb: tb, conn: conn, start: time.Now()}
	go func() {
		for {
			_, b, err := conn.Read(context.Background())
			if err != nil {
				return
			}
			r.add("recv", string(b))
		}
	}()
	tb.Cleanup(func() { conn.CloseNow() })
	return r
}

func (r *recorder) add(dir, text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := map[string]any{"t": float64(time.Since(r.start).Milliseconds()) / 1000, "dir": dir, "frame": text}
	if r.note != "" {
		f["note"], r.note = r.note, ""
	}
	r.frames = append(r.frames, f)
}

func (r *recorder) send(text string) {
	r.tb.Helper()
	r.add("send", text)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.conn.Write(ctx, websocket.MessageText, []byte(text)); err != nil {
		r.tb.Fatalf("writing to the Manager's socket.io: %v", err)
	}
}

func (r *recorder) noteNext(s string) {
	r.mu.Lock()
	r.note = s
	r.mu.Unlock()
}

func (r *recorder) has(prefix, contains string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range r.frames {
		t := f["frame"].(string)
		if f["dir"] == "recv" && strings.HasPrefix(t, prefix) && strings.Contains(t, contains) {
			return true
		}
	}
	return false
}

func (r *recorder) save(path string) {
	r.tb.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, f := range r.frames {
		line, err := json.Marshal(f)
		if err != nil {
			r.tb.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		r.tb.Fatal(err)
	}
	r.tb.Logf("recorded %d socket.io frames into %s", len(r.frames), path)
}

// TestEventStream holds the event stream client to a real Manager: it comes
// up, a submitted job brings "fetch now", and cancelling the job of a running
// task brings "ask may-i-run now". A raw connection beside it sees the same
// frames the client's parser takes (and, with CAJON_RECORD_SOCKETIO set,
// records them as the trace the fake Manager is held to).
func TestEventStream(t *testing.T) {
	m := startManager(t)
	rec := record(t, m)
	testwait.Within(t, "the Manager's socket.io handshake", 10*time.Second, func() bool { return rec.has("0{", "pingInterval") })
	rec.send(`421["/subscription",{"type":"allJobs","op":"subscribe"}]`)
	testwait.Within(t, "the Manager to ack the allJobs subscription", 10*time.Second, func() bool { return rec.has("431", "ok") })
	rec.send(`422["/subscription",{"type":"allWorkers","op":"subscribe"}]`)
	testwait.Within(t, "the Manager to ack the allWorkers subscription", 10*time.Second, func() bool { return rec.has("432", "ok") })

	stream, err := managerevents.New(managerevents.Options{ManagerURL: m.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); stream.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	testwait.Within(t, "the event stream to be up", 20*time.Second, func() bool { up, _ := stream.State(); return up })
	<-stream.FetchNow() // the hint of coming up

	startCajon(t, m, "cajon-events", cajonOptions{})
	m.waitWorker("cajon-events", "awake", 60*time.Second)

	rec.noteNext("submitted an Echo Sleep Test job: echo, then 2 sleeps of 30 s")
	job := m.submit("echo-sleep-test", "events", map[string]any{
		"message": "events", "sleep_duration_seconds": 30, "sleep_repeats": 2,
	})
	waitHint(t, stream.FetchNow(), "a fetch hint after the job was submitted")

	var running task
	testwait.Within(t, "a sleep task to be active", 60*time.Second, func() bool {
		for _, tk := range m.tasks(job) {
			if tk.Status == "active" && strings.HasPrefix(tk.Name, "sleep") {
				running = tk
				return true
			}
		}
		return false
	})
	nudge, stop := stream.WatchTask(job, running.ID)
	defer stop()
	rec.send(`423["/subscription",{"type":"job","uuid":"` + job + `","op":"subscribe"}]`)
	testwait.Within(t, "the Manager to ack the job subscription", 10*time.Second, func() bool { return rec.has("433", "ok") })

	rec.noteNext("cancel requested (POST /api/v3/jobs/{id}/setstatus cancel-requested)")
	m.setJobStatus(job, "cancel-requested", "test: cancel through the event stream")
	waitHint(t, nudge, "a may-i-run hint after the cancel")
	m.waitJob(job, "canceled", 60*time.Second)
	// The Manager cancels a job's tasks in one go and says so with
	// refresh_tasks on the job, not with an event per task.
	testwait.Within(t, "the raw connection to see the job canceled", 20*time.Second, func() bool {
		return rec.has(`42["/jobs"`, `"id":"`+job+`"`) && rec.has(`42["/jobs"`, `"status":"canceled"`)
	})

	// A status change request for the worker reaches it as a "/workers"
	// update with status_change.
	w := m.waitWorker("cajon-events", "awake", 60*time.Second)
	stream.SetWorker(w.ID)
	<-drain(stream.FetchNow())
	rec.noteNext("the worker sent to sleep at once (POST /api/v3/worker-mgt/workers/{id}/setstatus asleep)")
	m.setWorkerStatus(w.ID, "asleep", false)
	waitHint(t, stream.FetchNow(), "a fetch hint after the worker's status change request")
	testwait.Within(t, "the raw connection to see the worker's status change", 20*time.Second, func() bool {
		return rec.has(`42["/workers"`, `"status_change":{"is_lazy":false,"status":"asleep"}`)
	})
	if p := os.Getenv(recordEnv); p != "" {
		rec.save(p)
	}
}

// drain empties a hint channel; the returned channel is closed.
func drain(ch <-chan struct{}) <-chan struct{} {
	for {
		select {
		case <-ch:
		default:
			done := make(chan struct{})
			close(done)
			return done
		}
	}
}

func waitHint(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(20 * time.Second):
		t.Fatalf("no %s within 20 s", what)
	}
}

// scrape reads one series of a cajon's /metrics: the sum of the samples of
// name whose label text contains match.
func scrape(tb testing.TB, url, name, match string) float64 {
	tb.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var sum float64
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, name+"{") || !strings.Contains(line, match) {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}

// TestCajonFollowsTheStream: a Cajon worker on the real Manager, idle long
// enough that its next poll is seconds away, takes a submitted job and
// aborts a cancelled task through the stream's hints, and its metrics say so.
func TestCajonFollowsTheStream(t *testing.T) {
	m := startManager(t)
	port := freePort(t)
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	c := startCajon(t, m, "cajon-stream", cajonOptions{env: []string{
		"CAJON_MANAGER_FETCH_BACKOFF_MAX=10m", "CAJON_MANAGER_EVENT_FETCH_BACKOFF_MAX=10m",
		"CAJON_MANAGER_EVENT_MAY_I_RUN_INTERVAL=10m", "CAJON_METRICS_MANAGER_ANSWER_MAX_AGE=20m",
		fmt.Sprintf("CAJON_METRICS_LISTEN=127.0.0.1:%d", port),
	}})
	m.waitWorker(c.Name, "awake", 60*time.Second)
	testwait.Within(t, "the event stream to be up", 30*time.Second, func() bool {
		return scrape(t, metricsURL, "cajon_manager_event_stream_connects_total", `kind="first"`) == 1
	})
	// Fetches after 0.5, 1, 2 and 4 s: the next one is 8 s or more away.
	testwait.Within(t, "five empty fetches", 60*time.Second, func() bool {
		return scrape(t, metricsURL, "cajon_manager_requests_total", `endpoint="schedule-task"`) >= 5
	})
	dir := t.TempDir()
	job := execJob(m, "stream pickup", "/bin/sh", "-c", "echo $$ > "+dir+"/pid; exec sleep 600")
	var pid int
	testwait.Within(t, "the task's process to start", 60*time.Second, func() bool {
		p := proctest.ReadPidFiles(dir, "pid")
		pid = p["pid"]
		return pid != 0
	})
	if got := scrape(t, metricsURL, "cajon_task_pickups_total", `source="stream"`); got != 1 {
		t.Errorf("pickups from the stream: %v, want 1", got)
	}
	m.setJobStatus(job, "cancel-requested", "test: cancel through the stream")
	testwait.Within(t, "the cancelled task's process to be gone", 30*time.Second, func() bool { return !proctest.Alive(pid) })
	m.waitJob(job, "canceled", 30*time.Second)
	if got := scrape(t, metricsURL, "cajon_manager_aborts_total", `source="stream"`); got != 1 {
		t.Errorf("aborts from the stream: %v, want 1", got)
	}
	if got := scrape(t, metricsURL, "cajon_manager_events_total", `event="/jobs"`); got < 2 {
		t.Errorf("/jobs events counted: %v, want at least 2", got)
	}
}
