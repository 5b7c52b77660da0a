package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/sdk/sdktest"
)

// write creates a file with content and mode, and its folders.
func write(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// entries lists a folder's names.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func run(t *testing.T, command string, params map[string]any, workDir string) *sdktest.Result {
	t.Helper()
	return sdktest.Run(t, plugin(), command, params, sdktest.Options{WorkDir: workDir})
}

func TestMakeDirectory(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "file"), "x", 0o644)
	tests := []struct {
		name, path, workDir string
		wantDir             string
		wantErr             string
	}{
		{"nested", filepath.Join(dir, "a", "b", "c"), "", filepath.Join(dir, "a", "b", "c"), ""},
		{"exists", filepath.Join(dir, "a"), "", filepath.Join(dir, "a"), ""},
		{"relative to the work dir", "rel/x", dir, filepath.Join(dir, "rel", "x"), ""},
		{"a file is in the way", filepath.Join(dir, "file", "sub"), "", "", filepath.Join(dir, "file", "sub")},
		{"empty", "", "", "", "required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			params := map[string]any{"path": tt.path}
			if tt.path == "" {
				params = map[string]any{}
			}
			res := run(t, "make-directory", params, tt.workDir)
			if tt.wantErr != "" {
				if res.Status != sdktest.Failed || !strings.Contains(res.Message, tt.wantErr) {
					t.Fatalf("%s: %q; want failed, naming %q", res.Status, res.Message, tt.wantErr)
				}
				return
			}
			if res.Status != sdktest.Completed {
				t.Fatalf("%s: %s", res.Status, res.Message)
			}
			if info, err := os.Stat(tt.wantDir); err != nil || !info.IsDir() {
				t.Errorf("%s is not a folder: %v", tt.wantDir, err)
			}
		})
	}
}

func TestBackupName(t *testing.T) {
	dir := t.TempDir()
	dest := filepath.Join(dir, "render")
	mtime := time.Date(2026, 3, 7, 9, 5, 2, 0, time.Local)
	stamp := dest + "-2026-03-07_090502"

	if got, err := backupName(dest, mtime); err != nil || got != stamp {
		t.Fatalf("backupName = %q, %v; want %q", got, err, stamp)
	}
	write(t, stamp, "", 0o644)
	if got, err := backupName(dest, mtime); err != nil || got != stamp+"-001" {
		t.Fatalf("with %s taken: %q, %v; want -001", stamp, got, err)
	}
	if err := os.Mkdir(stamp+"-001", 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := backupName(dest, mtime); err != nil || got != stamp+"-002" {
		t.Fatalf("with -001 taken: %q, %v; want -002", got, err)
	}
	for n := 2; n <= maxBackups; n++ {
		write(t, fmt.Sprintf("%s-%03d", stamp, n), "", 0o644)
	}
	if got, err := backupName(dest, mtime); err == nil || !strings.Contains(err.Error(), stamp) {
		t.Fatalf("with all names taken: %q, %v; want an error naming %s", got, err, stamp)
	}
}

func TestMoveDirectory(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "new")
	dest := filepath.Join(dir, "out", "render")
	write(t, filepath.Join(src, "0001.png"), "new frame", 0o644)

	// First move: dest does not exist yet (nor its parent).
	res := run(t, "move-directory", map[string]any{"src": src, "dest": dest}, "")
	if res.Status != sdktest.Completed {
		t.Fatalf("%s: %s", res.Status, res.Message)
	}
	if got := read(t, filepath.Join(dest, "0001.png")); got != "new frame" {
		t.Errorf("moved file holds %q", got)
	}
	if _, err := os.Stat(src); !os.IsNotExist(err) {
		t.Errorf("source still there: %v", err)
	}

	// Second move: the existing dest is renamed after its mtime.
	mtime := time.Date(2025, 12, 31, 23, 59, 58, 0, time.Local)
	if err := os.Chtimes(dest, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(src, "0001.png"), "newer frame", 0o644)
	res = run(t, "move-directory", map[string]any{"src": src, "dest": dest}, "")
	if res.Status != sdktest.Completed {
		t.Fatalf("%s: %s", res.Status, res.Message)
	}
	backup := dest + "-2025-12-31_235958"
	if got := read(t, filepath.Join(backup, "0001.png")); got != "new frame" {
		t.Errorf("old destination %s holds %q", backup, got)
	}
	if got := read(t, filepath.Join(dest, "0001.png")); got != "newer frame" {
		t.Errorf("destination holds %q", got)
	}
	if !strings.Contains(strings.Join(res.Lines, "\n"), "renamed to "+backup) {
		t.Errorf("log does not say where the old destination went:\n%s", strings.Join(res.Lines, "\n"))
	}

	// Third move with the same mtime: -001.
	if err := os.Chtimes(dest, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(src, "0001.png"), "newest frame", 0o644)
	if res := run(t, "move-directory", map[string]any{"src": src, "dest": dest}, ""); res.Status != sdktest.Completed {
		t.Fatalf("%s: %s", res.Status, res.Message)
	}
	if got := read(t, filepath.Join(backup+"-001", "0001.png")); got != "newer frame" {
		t.Errorf("%s-001 holds %q", backup, got)
	}
	if got := entries(t, filepath.Join(dir, "out")); strings.Join(got, ",") != "render,render-2025-12-31_235958,render-2025-12-31_235958-001" {
		t.Errorf("out/ holds %q", got)
	}
}

func TestMoveDirectoryRefusals(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	write(t, filepath.Join(src, "f"), "x", 0o644)
	write(t, filepath.Join(dir, "file"), "x", 0o644)
	tests := []struct {
		name, src, dest string
		want            []string
	}{
		{"missing source", filepath.Join(dir, "nope"), filepath.Join(dir, "d"), []string{filepath.Join(dir, "nope"), "does not exist"}},
		{"source is a file", filepath.Join(dir, "file"), filepath.Join(dir, "d"), []string{filepath.Join(dir, "file"), "not a folder"}},
		{"same folder", src, src + string(filepath.Separator), []string{"same folder"}},
		{"into itself", src, filepath.Join(src, "sub"), []string{"into itself"}},
		{"dest contains source", src, dir, []string{"contains the source"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, "move-directory", map[string]any{"src": tt.src, "dest": tt.dest}, "")
			if res.Status != sdktest.Failed {
				t.Fatalf("%s, want failed", res.Status)
			}
			for _, w := range tt.want {
				if !strings.Contains(res.Message, w) {
					t.Errorf("message %q does not say %q", res.Message, w)
				}
			}
		})
	}
	if got := read(t, filepath.Join(src, "f")); got != "x" {
		t.Errorf("a refused move touched the source")
	}
	if got := entries(t, dir); strings.Join(got, ",") != "file,src" {
		t.Errorf("a refused move left %q", got)
	}
}

// treeSample makes a folder with a nested file, an executable, an empty
// folder and a symlink.
func treeSample(t *testing.T, root string) {
	t.Helper()
	write(t, filepath.Join(root, "a", "frame.png"), "png", 0o640)
	write(t, filepath.Join(root, "run.sh"), "#!/bin/sh\n", 0o755)
	if err := os.MkdirAll(filepath.Join(root, "empty"), 0o700); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		if err := os.Symlink("a/frame.png", filepath.Join(root, "link")); err != nil {
			t.Fatal(err)
		}
	}
}

func checkTree(t *testing.T, root string) {
	t.Helper()
	if got := read(t, filepath.Join(root, "a", "frame.png")); got != "png" {
		t.Errorf("a/frame.png holds %q", got)
	}
	for path, mode := range map[string]os.FileMode{"a/frame.png": 0o640, "run.sh": 0o755, "empty": 0o700} {
		info, err := os.Stat(filepath.Join(root, path))
		if err != nil {
			t.Fatal(err)
		}
		if runtime.GOOS != "windows" && info.Mode().Perm() != mode {
			t.Errorf("%s has mode %v, want %v", path, info.Mode().Perm(), mode)
		}
	}
	if runtime.GOOS != "windows" {
		if link, err := os.Readlink(filepath.Join(root, "link")); err != nil || link != "a/frame.png" {
			t.Errorf("link = %q, %v", link, err)
		}
	}
}

func TestMoveByCopy(t *testing.T) {
	// The cross-file-system path, on one file system.
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	treeSample(t, src)
	mtime := time.Date(2024, 1, 2, 3, 4, 5, 0, time.Local)
	if err := os.Chtimes(filepath.Join(src, "a", "frame.png"), mtime, mtime); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(dir, "dest")
	if err := moveByCopy(context.Background(), src, dest); err != nil {
		t.Fatal(err)
	}
	checkTree(t, dest)
	if info, err := os.Stat(filepath.Join(dest, "a", "frame.png")); err != nil || !info.ModTime().Equal(mtime) {
		t.Errorf("mtime not kept: %v, %v", info.ModTime(), err)
	}
	if _, err := os.Stat(src); !os.IsNotExist(err) {
		t.Errorf("source still there: %v", err)
	}
	if got := entries(t, dir); strings.Join(got, ",") != "dest" {
		t.Errorf("left behind: %q", got)
	}
}

func TestMoveByCopyAborted(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	treeSample(t, src)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := moveByCopy(ctx, src, filepath.Join(dir, "dest")); err == nil {
		t.Fatal("an aborted copy succeeded")
	}
	checkTree(t, src)
	if got := entries(t, dir); strings.Join(got, ",") != "src" {
		t.Errorf("an aborted copy left %q", got)
	}
}

func TestCopyFile(t *testing.T) {
	dir := t.TempDir()
	for _, mode := range []os.FileMode{0o640, 0o755} {
		src := filepath.Join(dir, "src-"+mode.String())
		dest := filepath.Join(dir, "new", "folder", "copy-"+mode.String())
		write(t, src, "frame data "+mode.String(), mode)
		res := run(t, "copy-file", map[string]any{"src": src, "dest": dest}, "")
		if res.Status != sdktest.Completed {
			t.Fatalf("%s: %s", res.Status, res.Message)
		}
		if got := read(t, dest); got != "frame data "+mode.String() {
			t.Errorf("copy holds %q", got)
		}
		info, err := os.Stat(dest)
		if err != nil {
			t.Fatal(err)
		}
		if runtime.GOOS != "windows" && info.Mode().Perm() != mode {
			t.Errorf("copy has mode %v, want %v", info.Mode().Perm(), mode)
		}
	}
	if got := entries(t, filepath.Join(dir, "new", "folder")); len(got) != 2 {
		t.Errorf("temporary files left: %q", got)
	}
}

func TestCopyFileRefusals(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	existing := filepath.Join(dir, "existing")
	write(t, src, "new", 0o644)
	write(t, existing, "keep me", 0o644)
	broken := filepath.Join(dir, "broken-link")
	if err := os.Symlink(filepath.Join(dir, "nowhere"), broken); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		src, dest string
		want      []string
	}{
		{"dest exists", src, existing, []string{existing, "already exists"}},
		{"dest is a broken link", src, broken, []string{broken, "already exists"}},
		{"src relative", "src", filepath.Join(dir, "d"), []string{`src "src" is not an absolute path`}},
		{"dest relative", src, "d", []string{`dest "d" is not an absolute path`}},
		{"src missing", filepath.Join(dir, "nope"), filepath.Join(dir, "d"), []string{filepath.Join(dir, "nope"), "does not exist"}},
		{"src is a folder", dir, filepath.Join(dir, "d"), []string{dir, "not a regular file"}},
		{"dest is src", src, src, []string{src, "already exists"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, "copy-file", map[string]any{"src": tt.src, "dest": tt.dest}, dir)
			if res.Status != sdktest.Failed {
				t.Fatalf("%s, want failed", res.Status)
			}
			for _, w := range tt.want {
				if !strings.Contains(res.Message, w) {
					t.Errorf("message %q does not say %q", res.Message, w)
				}
			}
		})
	}
	if got := read(t, existing); got != "keep me" {
		t.Errorf("the existing destination was overwritten: %q", got)
	}
	if got := entries(t, dir); strings.Join(got, ",") != "broken-link,existing,src" {
		t.Errorf("refused copies left %q", got)
	}
}

func TestDescribe(t *testing.T) {
	d := sdktest.Describe(t, plugin())
	want := map[string]string{"make-directory": "path", "move-directory": "src,dest", "copy-file": "src,dest"}
	if d.GetName() != "files" || len(d.GetCommands()) != len(want) {
		t.Fatalf("Describe = %v", d)
	}
	for _, c := range d.GetCommands() {
		var names []string
		for _, p := range c.GetParams() {
			names = append(names, p.GetName())
			if !p.GetRequired() {
				t.Errorf("%s: parameter %s is not required", c.GetName(), p.GetName())
			}
		}
		if c.GetTaskType() != "file-management" || strings.Join(names, ",") != want[c.GetName()] {
			t.Errorf("%s (%s): parameters %v, want %s", c.GetName(), c.GetTaskType(), names, want[c.GetName()])
		}
	}
}
