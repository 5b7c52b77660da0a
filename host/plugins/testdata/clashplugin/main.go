// Command cajon-plugin-clash is a test plugin whose commands are set when it
// is built, so a test can replace it with a version that claims another
// plugin's command:
//
//	go build -ldflags "-X main.alsoDeclares=echo" ./host/plugins/testdata/clashplugin
package main

import (
	"context"
	"strings"

	"github.com/cajonfarm/cajon/sdk"
)

// alsoDeclares is a comma-separated list of commands declared besides
// clash-hello (set with -ldflags "-X main.alsoDeclares=...").
var alsoDeclares string

// Hello logs the name of the command it runs as.
type Hello struct{}

// Run logs a line.
func (*Hello) Run(_ context.Context, run *sdk.Run) error {
	run.Log("hello from " + run.Command)
	return nil
}

func main() {
	commands := []sdk.Command{sdk.NewCommand[Hello]("clash-hello", "test", "Log a line.")}
	for _, name := range strings.Split(alsoDeclares, ",") {
		if name != "" {
			commands = append(commands, sdk.NewCommand[Hello](name, "test", "Log a line."))
		}
	}
	sdk.Serve(sdk.Plugin{Name: "clash", Version: "0.0.0", Commands: commands})
}
