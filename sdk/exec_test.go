package sdk_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/cajonfarm/cajon/sdk"
	"github.com/cajonfarm/cajon/sdk/process"
	"github.com/cajonfarm/cajon/sdk/sdktest"
)

// overlapping runs a main program and, while it runs, a short helper tool,
// as the blender plugin does when it makes EXR previews with ffmpeg.
type overlapping struct{}

func (*overlapping) Run(ctx context.Context, run *sdk.Run) error {
	var (
		wg      sync.WaitGroup
		mainRes process.Result
		mainErr error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		mainRes, mainErr = run.Exec(ctx, process.Command{Path: "sh", Args: []string{"-c", `sleep 2; echo "main $CAJON_RUN_ID"`}})
	}()
	helper, err := run.Exec(ctx, process.Command{Path: "sh", Args: []string{"-c", `echo "helper $CAJON_RUN_ID"`}})
	if err != nil || helper.ExitCode != 0 {
		return fmt.Errorf("helper: exit %d, %v", helper.ExitCode, err)
	}
	wg.Wait()
	if mainErr != nil || mainRes.ExitCode != 0 || mainRes.Signal != "" {
		return fmt.Errorf("main program: exit %d, signal %q, %v", mainRes.ExitCode, mainRes.Signal, mainErr)
	}
	return nil
}

func TestOverlappingExecCallsAreContainedApart(t *testing.T) {
	p := sdk.Plugin{Name: "p", Commands: []sdk.Command{sdk.NewCommand[overlapping]("overlap", "misc", "")}}
	res := sdktest.Run(t, p, "overlap", nil)
	if res.Status != sdktest.Completed {
		t.Fatalf("%s: %s (the end of the helper must not stop the main program)", res.Status, res.Message)
	}
	tags := map[string]string{}
	for _, l := range res.Lines {
		if who, tag, ok := strings.Cut(l, " "); ok {
			tags[who] = tag
		}
	}
	runID, _, _ := strings.Cut(tags["main"], "/")
	if tags["main"] == tags["helper"] || !strings.HasPrefix(tags["helper"], runID+"/") || runID == "" {
		t.Errorf("CAJON_RUN_ID main %q, helper %q: want <run id>/<n>, different for each Exec call", tags["main"], tags["helper"])
	}
}
