package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/cajonfarm/cajon/sdk"
)

// CopyFile is the copy-file command.
type CopyFile struct {
	Src  string `param:"src,required" desc:"Absolute path of the file to copy."`
	Dest string `param:"dest,required" desc:"Absolute path of the copy; must not exist (never overwritten). Its folder is created if needed."`
}

// Run copies the file.
func (c *CopyFile) Run(ctx context.Context, run *sdk.Run) error {
	for _, p := range []struct{ name, path string }{{"src", c.Src}, {"dest", c.Dest}} {
		if !filepath.IsAbs(p.path) {
			return fmt.Errorf("copy-file: %s %q is not an absolute path", p.name, p.path)
		}
	}
	g, err := newGuard(run, "copy-file")
	if err != nil {
		return err
	}
	src, err := g.check("src", c.Src)
	if err != nil {
		return err
	}
	// The copy is written beside dest first: its folder must be allowed.
	dest := c.Dest
	if g != nil {
		dir, err := g.check("dest's folder", filepath.Dir(c.Dest))
		if err != nil {
			return err
		}
		dest = filepath.Join(dir, filepath.Base(c.Dest))
	}
	run.Activity(fmt.Sprintf("copying %s to %s", src, dest))
	if err := copyFile(ctx, src, dest); err != nil {
		return err
	}
	run.Logf("copied %s to %s", src, dest)
	return nil
}

// copyFile copies the regular file src to dest, which must not exist. The
// data goes to a temporary file beside dest, is synced to disk with src's
// permissions, and only then takes dest's name: dest never exists half
// written, even if the worker dies midway.
func copyFile(ctx context.Context, src, dest string) (err error) {
	info, err := os.Stat(src)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("copy-file: source %s does not exist", src)
	case err != nil:
		return fmt.Errorf("copy-file: source %s: %w", src, err)
	case !info.Mode().IsRegular():
		return fmt.Errorf("copy-file: source %s is not a regular file (%s)", src, info.Mode().Type())
	}
	if err := refuseExisting(dest); err != nil {
		return err
	}
	dir := filepath.Dir(dest)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("copy-file: creating folder %s for %s: %w", dir, dest, err)
	}
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("copy-file: opening %s: %w", src, err)
	}
	defer in.Close()
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(dest)+".cajon-*.tmp")
	if err != nil {
		return fmt.Errorf("copy-file: creating a temporary file in %s: %w", dir, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := io.Copy(tmp, ctxReader{ctx, in}); err != nil {
		return fmt.Errorf("copy-file: copying %s to %s: %w", src, tmp.Name(), err)
	}
	if err := tmp.Chmod(info.Mode().Perm()); err != nil {
		return fmt.Errorf("copy-file: setting the permissions of %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("copy-file: syncing %s to disk: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("copy-file: writing %s: %w", tmp.Name(), err)
	}
	// Checked again: it may have appeared during the copy.
	if err := refuseExisting(dest); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), dest); err != nil {
		return fmt.Errorf("copy-file: renaming %s to %s: %w", tmp.Name(), dest, err)
	}
	syncDir(dir)
	return nil
}

// refuseExisting fails when dest exists (as anything, even a broken link).
func refuseExisting(dest string) error {
	_, err := os.Lstat(dest)
	switch {
	case err == nil:
		return fmt.Errorf("copy-file: destination %s already exists; copy-file never overwrites", dest)
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("copy-file: destination %s: %w", dest, err)
	}
	return nil
}

// syncDir makes a rename in dir durable where the OS allows syncing a
// folder; it is best effort (Windows cannot).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// ctxReader stops a long copy when the command is aborted.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
