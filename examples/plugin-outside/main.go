// Command cajon-plugin-shout is a Cajon plugin built outside the Cajon
// repository, as a studio would build its own: go.mod requires the SDK module
// and replaces it with a Cajon checkout, since the SDK is not published
// (docs/PLUGINS.md, "Building a plugin outside this repository").
//
//	go build -o cajon-plugin-shout .
//	cajon plugins check ./cajon-plugin-shout
package main

import (
	"context"
	"strings"

	"github.com/cajonfarm/cajon/sdk"
)

// Shout writes a message to the task log in capitals.
type Shout struct {
	Message string `param:"message,required" desc:"What to shout."`
	Times   int    `param:"times" default:"1" desc:"How many times."`
}

// Run writes the message Times times, one progress step each.
func (s *Shout) Run(ctx context.Context, run *sdk.Run) error {
	for i := range s.Times {
		run.Log(strings.ToUpper(s.Message))
		run.Progress(int64(i+1), int64(s.Times))
	}
	return nil
}

func plugin() sdk.Plugin {
	return sdk.Plugin{
		Name:    "shout",
		Version: "1.0.0",
		Commands: []sdk.Command{
			sdk.NewCommand[Shout]("shout", "misc", "Write a message to the task log in capitals.").
				WithExample(map[string]any{"message": "hello", "times": 2}),
		},
	}
}

func main() { sdk.Serve(plugin()) }
