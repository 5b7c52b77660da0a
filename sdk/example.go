package sdk

import (
	"fmt"

	"github.com/cajonfarm/cajon/sdk/wire"
	"google.golang.org/protobuf/types/known/structpb"
)

// WithExample gives the command example parameters: ones that run it
// successfully on any machine, in an empty working directory, within a few
// seconds. `cajon plugins check` runs the command with them, and `cajon
// plugins` shows them. Parameters that do not fit the command's own
// declaration are reported by Serve.
//
//	sdk.NewCommand[Echo]("echo", "misc", "Log a message.").
//		WithExample(map[string]any{"message": "hello"})
func (c Command) WithExample(params map[string]any) Command {
	if c.err != nil || c.spec == nil {
		return c
	}
	ex, err := structpb.NewStruct(params)
	if err != nil {
		c.err = fmt.Errorf("command %q: example: %w", c.Name(), err)
		return c
	}
	if err := wire.CheckParams(c.spec, ex.AsMap(), true); err != nil {
		c.err = fmt.Errorf("command %q: the example does not fit its parameters: %w", c.Name(), err)
		return c
	}
	c.spec.Example = ex
	return c
}
