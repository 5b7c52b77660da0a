package main

import (
	"context"
	"strings"

	"github.com/cajonfarm/cajon/sdk"
	"github.com/cajonfarm/cajon/sdk/wire"
)

// BigEvent reports an output whose path is larger than a gRPC message may
// be: the stream of this command breaks while the plugin lives on.
type BigEvent struct {
	Bytes int `param:"bytes" default:"0" desc:"Size of the path; 0 = wire.MaxMessageBytes + 1."`
}

// Run sends the event, then ends normally.
func (b *BigEvent) Run(_ context.Context, run *sdk.Run) error {
	n := b.Bytes
	if n <= 0 {
		n = wire.MaxMessageBytes + 1
	}
	run.Output("/"+strings.Repeat("x", n), "")
	run.Log("after the big event")
	return nil
}
