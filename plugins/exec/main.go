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
		Commands: []sdk.Command{
			sdk.NewCommand[Exec]("exec", "misc", "Run a program (no shell) or an inline script with a #! line."),
			sdk.NewCommand[Echo]("echo", "misc", "Write a message to the task log."),
			sdk.NewCommand[Sleep]("sleep", "misc", "Wait for a number of seconds; can be aborted."),
		},
	})
}
