package testwait

import (
	"fmt"
	"testing"
	"time"
)

func TestPoll(t *testing.T) {
	calls := 0
	if !Poll(Limit, func() bool { calls++; return calls == 3 }) {
		t.Fatal("Poll gave up on a condition that came true")
	}
	if calls != 3 {
		t.Errorf("cond called %d times, want 3 (until it held)", calls)
	}
	if Poll(0, func() bool { return false }) {
		t.Error("Poll reported a condition that never held")
	}
}

func TestWithinFailsAfterTheLimit(t *testing.T) {
	ft := &fatalRecorder{TB: t}
	Within(ft, "never", time.Millisecond, func() bool { return false })
	if ft.msg != "waiting for never: not reached within 1ms" {
		t.Errorf("Within failed with %q", ft.msg)
	}
}

// fatalRecorder records Fatalf instead of ending the test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}

func (f *fatalRecorder) Fatalf(format string, args ...any) { f.msg = fmt.Sprintf(format, args...) }
