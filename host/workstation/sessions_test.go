package workstation_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/workstation"
	"github.com/cajonfarm/cajon/internal/testtemp"
	"github.com/cajonfarm/cajon/internal/testwait"
)

// A helper's reports reach the detector; when the helper stops, its report
// goes and the detector says nobody is there.
func TestSessionReportRoundTrip(t *testing.T) {
	dir := testtemp.Dir(t)
	det := workstation.NewSessions(dir)
	if _, err := det.Idle(t.Context()); err == nil {
		t.Fatal("no error without any session report")
	}

	var mu sync.Mutex
	idle := time.Hour
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- workstation.ReportIdle(ctx, dir, "alice-1", 10*time.Millisecond, func() (time.Duration, error) {
			mu.Lock()
			defer mu.Unlock()
			return idle, nil
		})
	}()
	read := func() time.Duration {
		d, err := det.Idle(t.Context())
		if err != nil {
			return -1
		}
		return d
	}
	testwait.For(t, "the report of an idle session", func() bool { return read() >= time.Hour })
	mu.Lock()
	idle = 0
	mu.Unlock()
	testwait.For(t, "the report of input", func() bool { d := read(); return d >= 0 && d < time.Minute })

	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if d, err := det.Idle(t.Context()); err == nil {
		t.Errorf("the helper stopped, but the detector still reads idle %s", d)
	}
}

// Reports are untrusted: stale, malformed and other files are left out.
func TestSessionReportsLeftOut(t *testing.T) {
	dir := testtemp.Dir(t)
	write := func(name, text string, age time.Duration) {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		at := time.Now().Add(-age)
		if err := os.Chtimes(path, at, at); err != nil {
			t.Fatal(err)
		}
	}
	recent := time.Now().Add(-time.Second).Format(time.RFC3339Nano)
	write("stale.json", `{"last_input":"`+recent+`"}`, time.Hour)
	write("garbage.json", `{"last_input":`, 0)
	write("empty.json", `{}`, 0)
	write("notes.txt", `{"last_input":"`+recent+`"}`, 0)
	det := workstation.NewSessions(dir)
	if d, err := det.Idle(t.Context()); err == nil {
		t.Fatalf("idle %s from reports that are all stale or malformed", d)
	}
	old := time.Now().Add(-time.Hour).Format(time.RFC3339Nano)
	write("bob.json", `{"last_input":"`+old+`","session":"bob"}`, 0)
	d, err := det.Idle(t.Context())
	if err != nil || d < 59*time.Minute {
		t.Fatalf("idle %s, %v; want about an hour from bob's report alone", d, err)
	}
}

func TestReportIdleRefusesBadArguments(t *testing.T) {
	src := func() (time.Duration, error) { return 0, nil }
	for _, tc := range []struct {
		session string
		poll    time.Duration
	}{
		{"ok", 0},
		{"ok", time.Minute},
		{"../x", time.Second},
		{"", time.Second},
	} {
		if err := workstation.ReportIdle(t.Context(), testtemp.Dir(t), tc.session, tc.poll, src); err == nil {
			t.Errorf("ReportIdle(%q, %s): no error", tc.session, tc.poll)
		}
	}
}
