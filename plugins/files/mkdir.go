package main

import (
	"context"
	"fmt"
	"os"

	"github.com/cajonfarm/cajon/sdk"
)

// MakeDirectory is the make-directory command.
type MakeDirectory struct {
	Path string `param:"path,required" desc:"The folder to create, with its missing parents; an existing folder is fine."`
}

// Run creates the folder.
func (m *MakeDirectory) Run(_ context.Context, run *sdk.Run) error {
	g, err := newGuard(run, "make-directory")
	if err != nil {
		return err
	}
	path, err := g.abs("path", m.Path, run.WorkDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(path, 0o755); err != nil {
		return fmt.Errorf("creating folder %s: %w", path, err)
	}
	run.Logf("folder %s is there", path)
	return nil
}
