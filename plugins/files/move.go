package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/cajonfarm/cajon/plugins/internal/ospath"
	"github.com/cajonfarm/cajon/sdk"
)

// MoveDirectory is the move-directory command.
type MoveDirectory struct {
	Src  string `param:"src,required" desc:"The folder to move."`
	Dest string `param:"dest,required" desc:"Where to move it. An existing dest is first renamed to dest-YYYY-MM-DD_HHMMSS (its modification time, local time), with -001, -002... if that is taken."`
}

// backupLayout is the time format of the suffix an existing destination gets.
const backupLayout = "2006-01-02_150405"

// maxBackups bounds the -NNN suffixes tried for one destination.
const maxBackups = 999

// Run moves the folder, keeping an existing destination under a new name.
func (m *MoveDirectory) Run(ctx context.Context, run *sdk.Run) error {
	g, err := newGuard(run, "move-directory")
	if err != nil {
		return err
	}
	src, err := g.abs("src", m.Src, run.WorkDir)
	if err != nil {
		return err
	}
	dest, err := g.abs("dest", m.Dest, run.WorkDir)
	if err != nil {
		return err
	}
	run.Activity(fmt.Sprintf("moving %s to %s", src, dest))
	backup, err := moveDirectory(ctx, src, dest, g, run.Logf)
	if err != nil {
		return err
	}
	if backup != "" {
		run.Logf("the existing %s was renamed to %s", dest, backup)
	}
	run.Logf("moved %s to %s", src, dest)
	return nil
}

// moveDirectory moves the folder src to dest. An existing dest is renamed
// out of the way first; its new name is returned, and must be allowed by g
// too (dest may be a root itself). Across file systems, where a rename is
// impossible, src is copied beside dest, renamed into place and then deleted.
func moveDirectory(ctx context.Context, src, dest string, g *guard, logf func(string, ...any)) (string, error) {
	info, err := os.Stat(src)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("move-directory: source %s does not exist", src)
	case err != nil:
		return "", fmt.Errorf("move-directory: source %s: %w", src, err)
	case !info.IsDir():
		return "", fmt.Errorf("move-directory: source %s is not a folder", src)
	}
	if within(src, dest) && within(dest, src) { // C:\A and c:\a too
		return "", fmt.Errorf("move-directory: source and destination are the same folder %s", src)
	}
	if within(dest, src) {
		return "", fmt.Errorf("move-directory: cannot move %s into itself (%s)", src, dest)
	}
	if within(src, dest) {
		return "", fmt.Errorf("move-directory: destination %s contains the source %s", dest, src)
	}
	backup := ""
	if existing, err := os.Lstat(dest); err == nil {
		backup, err = backupName(dest, existing.ModTime())
		if err != nil {
			return "", err
		}
		if !g.inside(backup) {
			return "", g.outside("the existing dest's new name", backup, backup)
		}
		if err := os.Rename(dest, backup); err != nil {
			return "", fmt.Errorf("move-directory: renaming the existing %s to %s: %w", dest, backup, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("move-directory: destination %s: %w", dest, err)
	}
	if err := move(ctx, src, dest, logf); err != nil {
		if backup != "" {
			// Put the old destination back rather than leave it renamed.
			if rerr := os.Rename(backup, dest); rerr != nil {
				err = fmt.Errorf("%w; the existing destination stays renamed to %s (%v)", err, backup, rerr)
			}
		}
		return "", err
	}
	return backup, nil
}

// move renames src to dest, or copies it across file systems.
func move(ctx context.Context, src, dest string, logf func(string, ...any)) error {
	parent := filepath.Dir(dest)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("move-directory: creating folder %s for %s: %w", parent, dest, err)
	}
	err := os.Rename(src, dest)
	if err == nil {
		return nil
	}
	if !crossDevice(err) {
		return fmt.Errorf("move-directory: renaming %s to %s: %w", src, dest, err)
	}
	logf("%s and %s are on different file systems: copying, then deleting the source", src, dest)
	return moveByCopy(ctx, src, dest)
}

// within reports whether path is dir or below it, both absolute; on
// Windows without regard to case, drive letters and UNC shares included.
func within(path, dir string) bool {
	return ospath.Native.Within(path, dir)
}

// backupName is the name an existing destination is renamed to:
// dest-YYYY-MM-DD_HHMMSS from its modification time (local time), or with
// -001, -002... appended when that name is taken too.
func backupName(dest string, mtime time.Time) (string, error) {
	base := dest + "-" + mtime.Format(backupLayout)
	name := base
	for n := 1; ; n++ {
		_, err := os.Lstat(name)
		if errors.Is(err, os.ErrNotExist) {
			return name, nil
		}
		if err != nil {
			return "", fmt.Errorf("move-directory: checking %s: %w", name, err)
		}
		if n > maxBackups {
			return "", fmt.Errorf("move-directory: %s and %d numbered variants already exist; clean up old copies of %s", base, maxBackups, dest)
		}
		name = fmt.Sprintf("%s-%03d", base, n)
	}
}

// moveByCopy moves src to dest by copying: into a temporary folder beside
// dest, renamed to dest once complete (so dest is never half there), then
// src is deleted.
func moveByCopy(ctx context.Context, src, dest string) error {
	tmp, err := os.MkdirTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".cajon-*.tmp")
	if err != nil {
		return fmt.Errorf("move-directory: creating a temporary folder beside %s: %w", dest, err)
	}
	if err := copyTree(ctx, src, tmp); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.Rename(tmp, dest); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("move-directory: renaming the copy %s to %s: %w", tmp, dest, err)
	}
	if err := os.RemoveAll(src); err != nil {
		return fmt.Errorf("move-directory: %s was copied to %s, but deleting the source failed: %w", src, dest, err)
	}
	return nil
}

// copyTree copies the folder src into the existing folder dest: folders,
// regular files and symbolic links, with permissions and modification times.
// Anything else (a device, a socket) is an error naming it.
func copyTree(ctx context.Context, src, dest string) error {
	type dirTime struct {
		path  string
		mtime time.Time
	}
	var dirs []dirTime // set after their contents are written
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("move-directory: reading %s: %w", path, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dest, rel)
		info, err := d.Info()
		if err != nil {
			return fmt.Errorf("move-directory: reading %s: %w", path, err)
		}
		switch {
		case d.IsDir():
			if rel != "." {
				if err := os.Mkdir(target, info.Mode().Perm()); err != nil {
					return fmt.Errorf("move-directory: creating %s: %w", target, err)
				}
			} else if err := os.Chmod(target, info.Mode().Perm()); err != nil {
				return fmt.Errorf("move-directory: setting the permissions of %s: %w", target, err)
			}
			dirs = append(dirs, dirTime{target, info.ModTime()})
		case info.Mode()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return fmt.Errorf("move-directory: reading link %s: %w", path, err)
			}
			if err := os.Symlink(link, target); err != nil {
				return fmt.Errorf("move-directory: creating link %s: %w", target, err)
			}
		case info.Mode().IsRegular():
			if err := copyRegular(ctx, path, target, info); err != nil {
				return err
			}
		default:
			return fmt.Errorf("move-directory: cannot copy %s across file systems: it is a %s, not a file, folder or link", path, info.Mode().Type())
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		_ = os.Chtimes(dirs[i].path, dirs[i].mtime, dirs[i].mtime)
	}
	return nil
}

// copyRegular copies one file of a tree with its permissions and mtime.
func copyRegular(ctx context.Context, src, dest string, info fs.FileInfo) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("move-directory: opening %s: %w", src, err)
	}
	defer in.Close()
	out, err := os.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_EXCL, info.Mode().Perm())
	if err != nil {
		return fmt.Errorf("move-directory: creating %s: %w", dest, err)
	}
	if _, err := io.Copy(out, ctxReader{ctx, in}); err != nil {
		out.Close()
		return fmt.Errorf("move-directory: copying %s to %s: %w", src, dest, err)
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return fmt.Errorf("move-directory: syncing %s: %w", dest, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("move-directory: writing %s: %w", dest, err)
	}
	_ = os.Chtimes(dest, info.ModTime(), info.ModTime())
	return nil
}
