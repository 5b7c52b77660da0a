// Command cajon-plugin-testkit is a plugin that misbehaves on purpose, for the
// host's tests and benchmarks: it crashes, hangs, floods its log and starts
// process trees that try to escape. It is never shipped.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
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
			sdk.NewCommand[Bytes]("test-bytes", "test", "Report progress in bytes, as a command hashing a file does."),
			sdk.NewCommand[Fail]("test-fail", "test", "Fail with a message."),
			sdk.NewCommand[Warn]("test-warn", "test", "Complete (or fail) with warnings."),
			sdk.NewCommand[Garbage]("test-garbage", "test", "Write invalid UTF-8, binary bytes and NULs everywhere a plugin can write."),
			sdk.NewCommand[LongLine]("test-longline", "test", "Print one huge line without a newline."),
			sdk.NewCommand[BigEvent]("test-bigevent", "test", "Send one event larger than the protocol allows."),
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

// Bytes reports progress as bytes done of a size, one chunk at a time.
type Bytes struct {
	Size  int64 `param:"size" default:"10485760"`
	Chunk int64 `param:"chunk" default:"1048576"`
}

// Run logs the task's step count it was given, then reports the chunks.
func (b *Bytes) Run(ctx context.Context, run *sdk.Run) error {
	run.Logf("total_steps=%d", run.TotalSteps)
	for done := min(b.Chunk, b.Size); ; done = min(done+b.Chunk, b.Size) {
		run.Progress(done, b.Size)
		// An output flushes the progress before it: the host sees every
		// chunk, not only the latest one of a batch.
		run.Output(fmt.Sprintf("/tmp/bytes-%d", done), "")
		if done == b.Size {
			return nil
		}
	}
}

// Fail fails.
type Fail struct {
	Message string `param:"message" default:"asked to fail"`
}

// Run fails with the message.
func (f *Fail) Run(context.Context, *sdk.Run) error { return fmt.Errorf("%s", f.Message) }

// Warn reports warnings, then completes or fails.
type Warn struct {
	Warnings []string `param:"warnings" desc:"The warnings to report."`
	Fail     string   `param:"fail" desc:"Fail with this message after the warnings; empty: complete."`
}

// Run reports the warnings.
func (w *Warn) Run(_ context.Context, run *sdk.Run) error {
	for _, text := range w.Warnings {
		run.Warn(text)
	}
	if w.Fail != "" {
		return fmt.Errorf("%s", w.Fail)
	}
	return nil
}

// Garbage writes bytes that are not text to every channel a plugin has: a
// child's stdout and stderr (the task log), the plugin's own log calls and
// activity, and the plugin process's own stdout (the pipe go-plugin used for
// its handshake) and stderr.
type Garbage struct {
	Bytes int `param:"bytes" default:"16384" desc:"How many garbage bytes each channel gets."`
}

// garbageBytes is every byte value in turn, NUL and newline included.
func garbageBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

// Run writes the garbage between two marker lines.
func (g *Garbage) Run(ctx context.Context, run *sdk.Run) error {
	run.Log("before garbage")
	junk := garbageBytes(g.Bytes)
	dir, err := os.MkdirTemp("", "cajon-testkit-garbage-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "junk")
	if err := os.WriteFile(file, junk, 0o600); err != nil {
		return err
	}
	script := `cat "$1"; printf 'nul:\000:\377\376:end\n'; cat "$1" >&2; printf '\000\000\000'`
	res, err := run.Exec(ctx, process.Command{Path: "/bin/sh", Args: []string{"-c", script, "sh", file}})
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("garbage script exited with %d", res.ExitCode)
	}
	// The plugin's own channels.
	run.Log("log:\xff\xfe\x00:" + string(junk[:64]))
	run.Activity("activity:\xff\x00")
	_, _ = syscall.Write(1, junk)
	_, _ = os.Stdout.Write(junk)
	_, _ = os.Stderr.Write(junk)
	run.Log("after garbage")
	return nil
}

// LongLine prints one line of Bytes bytes with no newline, through a child
// process (the command's stdout) or through the plugin's own Log.
type LongLine struct {
	Bytes int    `param:"bytes" default:"104857600" desc:"Length of the line."`
	Via   string `param:"via" default:"child" desc:"child: a child process prints it; log: the plugin logs it itself."`
}

// Run prints the line.
func (l *LongLine) Run(ctx context.Context, run *sdk.Run) error {
	run.Log("long line starts")
	switch l.Via {
	case "child":
		script := fmt.Sprintf(`head -c %d /dev/zero | tr '\000' x`, l.Bytes)
		res, err := run.Exec(ctx, process.Command{Path: "/bin/sh", Args: []string{"-c", script}})
		if err != nil {
			return err
		}
		if res.ExitCode != 0 {
			return fmt.Errorf("long line script exited with %d", res.ExitCode)
		}
	case "log":
		run.Log(strings.Repeat("y", l.Bytes))
	default:
		return fmt.Errorf("via %q: want child or log", l.Via)
	}
	run.Log("long line ended")
	return nil
}
