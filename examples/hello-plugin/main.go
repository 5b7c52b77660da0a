// Command cajon-plugin-hello is the smallest useful Cajon plugin: one
// command, greet, that writes a greeting to the task log.
//
//	go build -o cajon-plugin-hello ./examples/hello-plugin
//	cajon plugins check ./cajon-plugin-hello
package main

import (
	"context"

	"github.com/cajonfarm/cajon/sdk"
)

// Greet greets someone in the task log.
type Greet struct {
	Name string `param:"name,required" desc:"Who to greet."`
}

// Run writes the greeting.
func (g *Greet) Run(ctx context.Context, run *sdk.Run) error {
	run.Logf("hello, %s", g.Name)
	return nil
}

func plugin() sdk.Plugin {
	return sdk.Plugin{
		Name:    "hello",
		Version: "1.0.0",
		Commands: []sdk.Command{
			sdk.NewCommand[Greet]("greet", "misc", "Write a greeting to the task log.").
				WithExample(map[string]any{"name": "world"}),
		},
	}
}

func main() { sdk.Serve(plugin()) }
