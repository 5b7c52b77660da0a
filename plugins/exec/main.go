// Command cajon-plugin-exec provides the generic commands of task type misc:
// exec (a program or an inline script), echo and sleep.
package main

import (
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
				WithExample(map[string]any{"exe": "sh", "args": []any{"-c", "echo hello from sh; sleep 1"}}),
			sdk.NewCommand[Echo]("echo", "misc", "Write a message to the task log.").
				WithExample(map[string]any{"message": "hello from echo"}),
			sdk.NewCommand[Sleep]("sleep", "misc", "Wait for a number of seconds; can be aborted.").
				WithExample(map[string]any{"duration_in_seconds": 0.5}),
		},
	})
}
