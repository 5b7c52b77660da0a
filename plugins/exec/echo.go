package main

import (
	"context"

	"github.com/cajonfarm/cajon/sdk"
)

// Echo writes a message to the task log.
type Echo struct {
	Message string `param:"message,required" desc:"Text to write to the task log."`
}

// Run logs the message.
func (e *Echo) Run(_ context.Context, run *sdk.Run) error {
	run.Log(e.Message)
	return nil
}
