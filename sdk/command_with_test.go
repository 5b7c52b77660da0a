package sdk_test

import (
	"context"
	"os"
	"sync/atomic"
	"testing"

	"github.com/cajonfarm/cajon/sdk"
	"github.com/cajonfarm/cajon/sdk/sdktest"
)

// counted counts its runs in state that outlives each run, and reports
// this test process as a process it uses.
type counted struct {
	Name  string `param:"name"`
	runs  *atomic.Int64
	fresh bool
}

func (c *counted) Run(_ context.Context, run *sdk.Run) error {
	defer run.UsesProcess(os.Getpid())()
	run.Logf("%s %d %v", c.Name, c.runs.Add(1), c.fresh)
	c.fresh = false
	return nil
}

func TestNewCommandWith(t *testing.T) {
	var runs atomic.Int64
	cmd := sdk.NewCommandWith("count", "misc", "", func() *counted { return &counted{runs: &runs, fresh: true} })
	p := sdk.Plugin{Name: "p", Commands: []sdk.Command{cmd}}
	for i, want := range []string{"a 1 true", "b 2 true"} {
		res := sdktest.Run(t, p, "count", map[string]any{"name": string(rune('a' + i))})
		if res.Status != sdktest.Completed || len(res.Lines) != 1 || res.Lines[0] != want {
			t.Errorf("run %d: %s %q, want %q (state shared, a new value per run)", i+1, res.Status, res.Lines, want)
		}
		if len(res.Children) != 1 || res.Children[0] != os.Getpid() {
			t.Errorf("run %d reported processes %v, want the one it uses (%d)", i+1, res.Children, os.Getpid())
		}
	}
	if d := sdktest.Describe(t, p); len(d.GetCommands()) != 1 || d.GetCommands()[0].GetParams()[0].GetName() != "name" {
		t.Errorf("Describe = %v, want the parameters of counted", d)
	}
}
