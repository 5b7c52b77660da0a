package main

import (
	"context"
	"fmt"
	"os"

	"github.com/cajonfarm/cajon/sdk"
)

// folderMode is the mode make-directory asks for, before the umask.
const folderMode = 0o775

// MakeDirectory is the make-directory command.
type MakeDirectory struct {
	Path string `param:"path,required" desc:"The folder to create, with its missing parents (mode 0775 less the worker's umask); an existing folder is fine."`
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
	// 0775 as Flamenco 3.9's worker: render storage is often shared by a
	// group of workers. The umask applies, as it does there: a worker run
	// with umask 022 still makes 0755 folders.
	if err := os.MkdirAll(path, folderMode); err != nil {
		return fmt.Errorf("creating folder %s: %w", path, err)
	}
	run.Logf("folder %s is there", path)
	return nil
}
