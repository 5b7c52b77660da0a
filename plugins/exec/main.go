// Command cajon-plugin-exec provides the generic commands of task type misc:
// exec (a program or an inline script), echo and sleep.
package main

import (
	"runtime"

	"github.com/cajonfarm/cajon/sdk"
)

func main() {
	sdk.Serve(sdk.Plugin{
		Name:    "exec",
		Version: "1.0.0",
		// No [plugins.exec] table: any key in one is a mistake.
		Config: sdk.ConfigOf(struct{}{}),
		Commands: []sdk.Command{
			sdk.NewCommand[Exec]("exec", "misc", "Run a program (no shell) or an inline script with a #! line.").
				WithExample(execExample(runtime.GOOS)),
			sdk.NewCommand[Echo]("echo", "misc", "Write a message to the task log.").
				WithExample(map[string]any{"message": "hello from echo"}),
			sdk.NewCommand[Sleep]("sleep", "misc", "Wait for a number of seconds; can be aborted.").
				WithExample(map[string]any{"duration_in_seconds": 0.5}),
		},
	})
}

// execExample is the exec command's example on the OS goos: a line of its
// shell that prints and waits a second (`cajon plugins check` runs it, and
// cancels it for the cancel check).
func execExample(goos string) map[string]any {
	if goos == "windows" {
		return map[string]any{"exe": "cmd", "args": []any{"/c", "echo hello from cmd & ping -n 2 127.0.0.1 >nul"}}
	}
	return map[string]any{"exe": "sh", "args": []any{"-c", "echo hello from sh; sleep 1"}}
}
