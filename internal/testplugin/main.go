// Command cajon-plugin-testkit is a plugin that misbehaves on purpose, for the
// host's tests and benchmarks: it crashes, hangs, floods its log and starts
// process trees that try to escape. It is never shipped.
package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/cajonfarm/cajon/sdk"
	"github.com/cajonfarm/cajon/sdk/process"
)

func main() {
	sdk.Serve(sdk.Plugin{
		Name:    "testkit",
		Version: "0.0.0",
		Commands: []sdk.Command{
			sdk.NewCommand[Crash]("test-crash", "test", "Exit the plugin process in the middle of a command."),
			sdk.NewCommand[Hang]("test-hang", "test", "Block forever, ignoring aborts."),
			sdk.NewCommand[Flood]("test-flood", "test", "Print many lines through a child process."),
			sdk.NewCommand[Tree]("test-tree", "test", "Start a shell script (a process tree) and wait for it."),
			sdk.NewCommand[Steps]("test-steps", "test", "Report progress steps."),
			sdk.NewCommand[Fail]("test-fail", "test", "Fail with a message."),
		},
	})
}

// Crash exits the plugin process after logging a line.
type Crash struct {
	After float64 `param:"after_seconds" default:"0.1" desc:"Run this long before crashing."`
}

// Run crashes the plugin.
func (c *Crash) Run(ctx context.Context, run *sdk.Run) error {
	run.Log("about to crash")
	time.Sleep(time.Duration(c.After * float64(time.Second)))
	os.Exit(3)
	return nil
}

// Hang never returns, even when aborted.
type Hang struct{}

// Run blocks forever.
func (h *Hang) Run(ctx context.Context, run *sdk.Run) error {
	run.Log("hanging")
	select {}
}

// Flood prints lines through a real child process.
type Flood struct {
	Lines int `param:"lines" default:"100000" desc:"How many lines to print."`
	Width int `param:"width" default:"60" desc:"Bytes per line."`
}

// Run prints the lines.
func (f *Flood) Run(ctx context.Context, run *sdk.Run) error {
	line := strings.Repeat("x", max(f.Width-8, 1))
	// awk, not a shell loop: that is far too slow for millions of lines.
	script := fmt.Sprintf(`awk 'BEGIN { for (i = 0; i < %d; i++) printf "%%08d%s\n", i }'`, f.Lines, line)
	res, err := run.Exec(ctx, process.Command{Path: "/bin/sh", Args: []string{"-c", script}})
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("flood exited with %d", res.ExitCode)
	}
	return nil
}

// Tree runs a shell script, typically one that builds a nasty process tree.
type Tree struct {
	Script string `param:"script,required" desc:"sh script to run."`
}

// Run runs the script.
func (t *Tree) Run(ctx context.Context, run *sdk.Run) error {
	res, err := run.Exec(ctx, process.Command{Path: "/bin/sh", Args: []string{"-c", t.Script}})
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("script exited with %d", res.ExitCode)
	}
	return nil
}

// Steps reports progress.
type Steps struct {
	Count int `param:"count" default:"3"`
}

// Run reports Count steps.
func (s *Steps) Run(ctx context.Context, run *sdk.Run) error {
	for i := 1; i <= s.Count; i++ {
		run.Progress(int64(i), int64(s.Count))
		run.Activity(fmt.Sprintf("step %d of %d", i, s.Count))
		run.Output(fmt.Sprintf("/tmp/step-%d.png", i), "image/png")
	}
	return nil
}

// Fail fails.
type Fail struct {
	Message string `param:"message" default:"asked to fail"`
}

// Run fails with the message.
func (f *Fail) Run(context.Context, *sdk.Run) error { return fmt.Errorf("%s", f.Message) }
