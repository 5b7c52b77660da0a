package task

import (
	"math"
	"testing"

	pluginv1 "github.com/cajonfarm/cajon/sdk/proto/cajon/plugin/v1"
)

func TestCommandSteps(t *testing.T) {
	p := func(done, total *int64) *pluginv1.Progress {
		return &pluginv1.Progress{StepsDone: done, StepsTotal: total}
	}
	n := func(v int64) *int64 { return &v }
	cases := []struct {
		name  string
		prog  *pluginv1.Progress
		share int
		steps int
		ok    bool
	}{
		{"activity only: steps absent", p(nil, nil), 5, 0, false},
		{"an old SDK's activity-only -1", p(n(-1), n(0)), 5, 0, false},
		{"zero done is progress, not unchanged", p(n(0), n(10)), 5, 0, true},
		{"no total: done is in task steps", p(n(3), nil), 5, 3, true},
		{"total 0: done is in task steps, clamped", p(n(9), n(0)), 5, 5, true},
		{"bytes scale onto the share, rounded down", p(n(1<<20), n(10<<20)), 4, 0, true},
		{"half way", p(n(5<<20), n(10<<20)), 4, 2, true},
		{"all done", p(n(10<<20), n(10<<20)), 4, 4, true},
		{"more than total is clamped", p(n(11), n(10)), 4, 4, true},
		{"one step for a command without a count", p(n(999), n(1000)), 1, 0, true},
		{"huge totals do not overflow", p(n(math.MaxInt64/2), n(math.MaxInt64)), 100, 50, true},
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
