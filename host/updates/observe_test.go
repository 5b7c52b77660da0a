package updates

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// depthObserver keeps what the queue reported.
type depthObserver struct {
	mu        sync.Mutex
	pending   int
	oldest    time.Time
	calls     int
	delivered []int
}

func (o *depthObserver) QueueChanged(pending int, oldest time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.pending, o.oldest = pending, oldest
	o.calls++
}

func (o *depthObserver) UpdateDelivered(logBytes int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.delivered = append(o.delivered, logBytes)
}

func (o *depthObserver) state() (int, time.Time, []int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.pending, o.oldest, append([]int(nil), o.delivered...)
}

func TestObserverSeesDepthOldestAndDeliveredLog(t *testing.T) {
	tests := []struct {
		name      string
		mergeMax  int
		delivered []int // log bytes per accepted request
	}{
		{"one request per update", -1, []int{2, 3, 0}},
		{"merged into one request", 0, []int{6}}, // "aa" + "\n" + "bbb"
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs := &depthObserver{}
			q := openQueue(t, Options{Observer: obs, MergeMaxLogBytes: tt.mergeMax})
			before := time.Now()
			appendAll(t, q, []Update{{TaskID: "t", Log: "aa"}})
			after := time.Now()
			appendAll(t, q, []Update{{TaskID: "t", Log: "bbb"}, {TaskID: "t", Status: "completed"}})
			pending, oldest, _ := obs.state()
			if pending != 3 || oldest.Before(before) || oldest.After(after) {
				t.Errorf("after 3 appends: pending %d, oldest %v; want 3 and the first append's time (%v..%v)", pending, oldest, before, after)
			}
			flush(t, q, &recordingSender{})
			pending, oldest, delivered := obs.state()
			if pending != 0 || !oldest.IsZero() {
				t.Errorf("after flush: pending %d, oldest %v; want 0 and the zero time", pending, oldest)
			}
			if !slices.Equal(delivered, tt.delivered) {
				t.Errorf("delivered log bytes %v, want %v", delivered, tt.delivered)
			}
		})
	}
}

func TestObserverCountsUpdatesOfAnEarlierRun(t *testing.T) {
	path := t.TempDir() + "/q.sqlite"
	q := openQueue(t, Options{Path: path})
	appendAll(t, q, interleaved(5, 2))
	q.Close()

	obs := &depthObserver{}
	opened := time.Now()
	openQueue(t, Options{Path: path, Observer: obs})
	pending, oldest, _ := obs.state()
	if pending != 5 || oldest.Before(opened) {
		t.Errorf("reopened: pending %d, oldest %v; want 5, counted from the open (%v)", pending, oldest, opened)
	}
}

func TestObserverNotToldOfRefusedUpdates(t *testing.T) {
	obs := &depthObserver{}
	q := openQueue(t, Options{Observer: obs, MergeMaxLogBytes: -1})
	appendAll(t, q, []Update{{TaskID: "gone", Log: "lost"}})
	flush(t, q, &recordingSender{fail: func(Update, int) error { return ErrTaskGone }})
	if pending, _, delivered := obs.state(); pending != 0 || len(delivered) != 0 {
		t.Errorf("pending %d, delivered %v; want 0 and nothing delivered (the Manager refused it)", pending, delivered)
	}
}

func TestCheck(t *testing.T) {
	q := openQueue(t, Options{})
	if err := q.Check(context.Background()); err != nil {
		t.Fatalf("a healthy queue: %v", err)
	}
	refuseWrites(t, q, true)
	if err := q.Append(context.Background(), Update{TaskID: "t", Log: "held"}); !errors.Is(err, ErrNotDurable) {
		t.Fatalf("Append with the disk refusing: %v", err)
	}
	if err := q.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "held in memory") {
		t.Errorf("a queue whose disk refuses writes: %v, want an error saying updates are held in memory", err)
	}
	refuseWrites(t, q, false)
	q.Close()
	if err := q.Check(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("a closed queue: %v, want ErrClosed", err)
	}
}

func TestArrivals(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var a arrivals
	if !a.oldest().IsZero() {
		t.Fatal("empty arrivals have an oldest time")
	}
	for i := range 3000 {
		a.push(t0.Add(time.Duration(i)*time.Second), 1)
	}
	steps := []struct {
		pop  int
		want time.Time
	}{
		{1, t0.Add(time.Second)},
		{1500, t0.Add(1501 * time.Second)}, // compacts the front
		{1498, t0.Add(2999 * time.Second)},
		{5, time.Time{}}, // more than are left
	}
	for _, s := range steps {
		a.pop(s.pop)
		if got := a.oldest(); !got.Equal(s.want) {
			t.Fatalf("after pop(%d): oldest %v, want %v", s.pop, got, s.want)
		}
	}
	a.push(t0, 2)
	if got := a.oldest(); !got.Equal(t0) {
		t.Errorf("after refilling: oldest %v, want %v", got, t0)
	}
}
