// Command cajon-plugin-NAME is a test plugin whose commands are set when it
// is built, so a test can replace a plugin with a version that claims another
// plugin's command. It takes its name from its file name (cajon-plugin-NAME),
// so one build serves as any plugin:
//
//	go build -ldflags "-X main.commands={name}-hello,echo" ./host/plugins/testdata/clashplugin
package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/cajonfarm/cajon/sdk"
)

// commands is a comma-separated list of the commands to declare; {name}
// stands for the plugin's name (set with -ldflags "-X main.commands=...").
var commands = "{name}-hello"

// Hello logs the name of the command it runs as.
type Hello struct{}

// Run logs a line.
func (*Hello) Run(_ context.Context, run *sdk.Run) error {
	run.Log("hello from " + run.Command)
	return nil
}

func main() {
	name := strings.TrimPrefix(filepath.Base(os.Args[0]), "cajon-plugin-")
	var declared []sdk.Command
	for _, c := range strings.Split(strings.ReplaceAll(commands, "{name}", name), ",") {
		declared = append(declared, sdk.NewCommand[Hello](c, "test", "Log a line."))
	}
	sdk.Serve(sdk.Plugin{Name: name, Version: "0.0.0", Commands: declared})
}
