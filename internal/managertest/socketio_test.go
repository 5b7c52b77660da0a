package managertest_test

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/internal/flamencotrace"
	"github.com/cajonfarm/cajon/internal/managertest"
	"github.com/cajonfarm/cajon/internal/testwait"
	"github.com/coder/websocket"
)

// frameLog is a raw connection to the fake's event stream.
type frameLog struct {
	mu     sync.Mutex
	frames []string
}

func (l *frameLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.frames)
}

// payloadKeys is the sorted key set of an event frame's payload.
func payloadKeys(t *testing.T, frame string) (name string, keys []string, payload map[string]any) {
	t.Helper()
	var args []json.RawMessage
	if err := json.Unmarshal([]byte(strings.TrimPrefix(frame, "42")), &args); err != nil || len(args) != 2 {
		t.Fatalf("event frame %q: %v", frame, err)
	}
	if err := json.Unmarshal(args[0], &name); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(args[1], &payload); err != nil {
		t.Fatal(err)
	}
	return name, slices.Sorted(maps.Keys(payload)), payload
}

// TestStreamMatchesTheRecording holds the fake's event stream to the real
// Manager's recorded one: the handshake, acks, and the keys and order of the
// "/jobs" updates of a queued and then cancelled job, and the "/workers"
// update of a status change request.
func TestStreamMatchesTheRecording(t *testing.T) {
	rec, err := flamencotrace.SocketIO("echo-sleep-cancel")
	if err != nil {
		t.Fatal(err)
	}
	m := managertest.New(t, managertest.Config{})
	ctx := context.Background()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(m.URL(), "http")+"/socket.io/?EIO=3&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	log := &frameLog{}
	go func() {
		for {
			_, b, err := conn.Read(ctx)
			if err != nil {
				return
			}
			log.mu.Lock()
			log.frames = append(log.frames, string(b))
			log.mu.Unlock()
		}
	}()
	// The recording's own subscriptions, as it sent them.
	for _, f := range rec {
		if f.Dir == "send" && !strings.Contains(f.Text, `"job"`) {
			if err := conn.Write(ctx, websocket.MessageText, []byte(f.Text)); err != nil {
				t.Fatal(err)
			}
		}
	}
	testwait.Within(t, "both acks", 5*time.Second, func() bool {
		fs := log.all()
		return slices.Contains(fs, `431["ok"]`) && slices.Contains(fs, `432["ok"]`)
	})
	wk := m.AddWorker("w", "secret", "misc")
	job := m.AddJob(managertest.Job{Tasks: []managertest.Task{{Name: "a"}}})
	if err := m.CancelJob(job.ID); err != nil {
		t.Fatal(err)
	}
	if err := m.RequestStatus(wk, managertest.WorkerAsleep, false); err != nil {
		t.Fatal(err)
	}
	testwait.Within(t, "the worker update", 5*time.Second, func() bool {
		return strings.HasPrefix(log.all()[len(log.all())-1], `42["/workers"`)
	})
	got := log.all()

	// The handshake: the same keys and timings, then the connect.
	var want, have map[string]any
	_ = json.Unmarshal([]byte(rec[0].Text[1:]), &want)
	if err := json.Unmarshal([]byte(got[0][1:]), &have); err != nil || got[0][0] != '0' {
		t.Fatalf("first frame %q is not the open handshake: %v", got[0], err)
	}
	delete(want, "sid")
	delete(have, "sid")
	if !maps.EqualFunc(want, have, func(a, b any) bool { return strings.EqualFold(jsonText(a), jsonText(b)) }) {
		t.Errorf("handshake %v, the real Manager's %v", have, want)
	}
	if got[1] != "40" || rec[1].Text != "40" {
		t.Errorf("second frame %q, the real Manager's %q", got[1], rec[1].Text)
	}

	// The "/jobs" updates: new job without previous_status, then the
	// cancel in two steps, with the real Manager's keys.
	recJobs := flamencotrace.Received(rec, `42["/jobs"`)
	var gotJobs []string
	for _, f := range got {
		if strings.HasPrefix(f, `42["/jobs"`) {
			gotJobs = append(gotJobs, f)
		}
	}
	type step struct {
		status, prev string
		refresh      bool
	}
	steps := func(frames []string) (out []step, keys map[string][]string) {
		keys = map[string][]string{}
		for _, f := range frames {
			_, k, p := payloadKeys(t, f)
			st, _ := p["status"].(string)
			prev, _ := p["previous_status"].(string)
			refresh, _ := p["refresh_tasks"].(bool)
			if st == "active" {
				continue // the fake's job is never worked on here
			}
			out = append(out, step{st, prev, refresh})
			keys[st] = k
		}
		return out, keys
	}
	var recTexts []string
	for _, f := range recJobs {
		recTexts = append(recTexts, f.Text)
	}
	wantSteps, wantKeys := steps(recTexts)
	gotSteps, gotKeys := steps(gotJobs)
	// The recorded cancel came from active; the fake's job was queued.
	for i := range wantSteps {
		if wantSteps[i].prev == "active" {
			wantSteps[i].prev = "queued"
		}
	}
	if !slices.Equal(gotSteps, wantSteps) {
		t.Errorf("/jobs updates (status, previous, refresh_tasks) %v, the real Manager's %v", gotSteps, wantSteps)
	}
	for st, k := range wantKeys {
		if !slices.Equal(gotKeys[st], k) {
			t.Errorf("/jobs %s keys %v, the real Manager's %v", st, gotKeys[st], k)
		}
	}

	// The "/workers" update of a status change request.
	var recWorker string
	for _, f := range flamencotrace.Received(rec, `42["/workers"`) {
		if strings.Contains(f.Text, "status_change") {
			recWorker = f.Text
		}
	}
	_, wantK, wantP := payloadKeys(t, recWorker)
	_, gotK, gotP := payloadKeys(t, got[len(got)-1])
	if !slices.Equal(gotK, wantK) {
		t.Errorf("/workers keys %v, the real Manager's %v", gotK, wantK)
	}
	if jsonText(gotP["status_change"]) != jsonText(wantP["status_change"]) {
		t.Errorf("status_change %s, the real Manager's %s", jsonText(gotP["status_change"]), jsonText(wantP["status_change"]))
	}
	m.CheckProtocol(t)
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
