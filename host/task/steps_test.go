package task

import (
	"math"
	"testing"

	"github.com/cajonfarm/cajon/host/plugins"
)

// The wire's rules for absent and negative fields are sdk/wire's
// (TestDeliver); these are the scaling onto the task's steps.
func TestCommandSteps(t *testing.T) {
	p := func(done, total int64) plugins.Progress {
		return plugins.Progress{HasSteps: true, StepsDone: done, StepsTotal: total}
	}
	cases := []struct {
		name  string
		prog  plugins.Progress
		share int
		steps int
		ok    bool
	}{
		{"activity only: no steps", plugins.Progress{Activity: "reading"}, 5, 0, false},
		{"zero done is progress, not unchanged", p(0, 10), 5, 0, true},
		{"no total: done is in task steps", p(3, 0), 5, 3, true},
		{"no total: done is in task steps, clamped", p(9, 0), 5, 5, true},
		{"bytes scale onto the share, rounded down", p(1<<20, 10<<20), 4, 0, true},
		{"half way", p(5<<20, 10<<20), 4, 2, true},
		{"all done", p(10<<20, 10<<20), 4, 4, true},
		{"more than total is clamped", p(11, 10), 4, 4, true},
		{"one step for a command without a count", p(999, 1000), 1, 0, true},
		{"huge totals do not overflow", p(math.MaxInt64/2, math.MaxInt64), 100, 50, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			steps, ok := commandSteps(tc.prog, tc.share)
			if steps != tc.steps || ok != tc.ok {
				t.Errorf("commandSteps = %d, %v; want %d, %v", steps, ok, tc.steps, tc.ok)
			}
		})
	}
}
