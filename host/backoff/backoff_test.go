package backoff_test

import (
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/backoff"
)

func TestSteps(t *testing.T) {
	for _, tt := range []struct {
		name   string
		b      backoff.Backoff
		steps  []time.Duration
		jitter float64
	}{
		{"doubling to the cap, ±10%", backoff.Backoff{Min: 500 * time.Millisecond, Max: 20 * time.Second, Jitter: 0.1},
			[]time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 20 * time.Second, 20 * time.Second}, 0.1},
		{"no jitter", backoff.Backoff{Min: time.Second, Max: 3 * time.Second},
			[]time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second}, 0},
		{"a cap below the minimum waits the minimum", backoff.Backoff{Min: time.Second, Max: time.Millisecond},
			[]time.Duration{time.Second, time.Second}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.b
			for i, step := range tt.steps {
				d := b.Next()
				spread := time.Duration(float64(step) * tt.jitter)
				if d < step-spread || d > step+spread {
					t.Errorf("wait %d: %v, want %v ±%v", i+1, d, step, spread)
				}
			}
			if b.Failures() != len(tt.steps) {
				t.Errorf("Failures() = %d, want %d", b.Failures(), len(tt.steps))
			}
			b.Reset()
			if d, first := b.Next(), tt.steps[0]; d > first+time.Duration(float64(first)*tt.jitter) {
				t.Errorf("after Reset: %v, want about %v", d, first)
			}
		})
	}
}

func TestNextAtLeast(t *testing.T) {
	b := backoff.Backoff{Min: 100 * time.Millisecond, Max: time.Second, Jitter: 0.2}
	if d := b.NextAtLeast(3 * time.Second); d < 3*time.Second {
		t.Errorf("NextAtLeast(3s) = %v", d)
	}
	if d := b.NextAtLeast(24 * time.Hour); d != backoff.MaxRetryAfter {
		t.Errorf("NextAtLeast(24h) = %v, want the cap %v", d, backoff.MaxRetryAfter)
	}
}
