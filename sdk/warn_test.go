package sdk_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/cajonfarm/cajon/sdk"
	"github.com/cajonfarm/cajon/sdk/sdktest"
	"github.com/cajonfarm/cajon/sdk/wire"
)

// warner warns count times ("problem 0", "problem 1", ...), then fails
// when fail is set.
type warner struct {
	Count int  `param:"count"`
	Fail  bool `param:"fail"`
}

func (w *warner) Run(_ context.Context, run *sdk.Run) error {
	for i := range w.Count {
		run.Warn(fmt.Sprintf("problem %d\nsecond line", i))
	}
	run.Warn("   ") // nothing to say: no warning
	if w.Fail {
		return fmt.Errorf("failed after warning")
	}
	return nil
}

// Warnings reach the task log at once and the result at the end, bounded,
// whatever the status.
func TestWarnings(t *testing.T) {
	p := sdk.Plugin{Name: "t", Version: "1", Commands: []sdk.Command{sdk.NewCommand[warner]("warn", "misc", "warns")}}
	cases := []struct {
		name   string
		count  int
		fail   bool
		status sdktest.Status
		want   []string
	}{
		{"none", 0, false, sdktest.Completed, nil},
		{"completed", 2, false, sdktest.Completed, []string{"problem 0 ...", "problem 1 ..."}},
		{"failed", 1, true, sdktest.Failed, []string{"problem 0 ..."}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := sdktest.Run(t, p, "warn", map[string]any{"count": tc.count, "fail": tc.fail})
			if res.Status != tc.status || !slices.Equal(res.Warnings, tc.want) {
				t.Fatalf("status %s, warnings %q; want %s, %q", res.Status, res.Warnings, tc.status, tc.want)
			}
			for i := range tc.count {
				if !slices.Contains(res.Lines, fmt.Sprintf("WARNING: problem %d", i)) {
					t.Errorf("the log lacks warning %d:\n%q", i, res.Lines)
				}
			}
		})
	}
	t.Run("bounded", func(t *testing.T) {
		res := sdktest.Run(t, p, "warn", map[string]any{"count": wire.MaxWarnings + 5})
		if len(res.Warnings) != wire.MaxWarnings {
			t.Fatalf("%d warnings sent, want %d", len(res.Warnings), wire.MaxWarnings)
		}
		if want := "(and 6 more warnings, see the task log)"; res.Warnings[wire.MaxWarnings-1] != want {
			t.Errorf("last warning %q, want %q", res.Warnings[wire.MaxWarnings-1], want)
		}
	})
}
