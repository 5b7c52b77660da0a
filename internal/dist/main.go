// Command dist builds Cajon's release archives (make dist): for each
// platform an archive that an admin unpacks and runs, never builds:
//
//	cajon-VERSION-OS-ARCH/
//	  cajon[.exe]                    stamped with VERSION, as make build does
//	  plugins/cajon-plugin-*[.exe]   where cajon finds them by itself
//	  cajon.toml                     the example config
//	  cajon-worker.service           Linux: the systemd unit, for /opt/cajon
//	  WINDOWS.md                     Windows: installing the service
//	  README.md, LICENSE             (LICENSE when the repository has one)
//
// .tar.gz for Linux and macOS, .zip for Windows, and SHA256SUMS beside them.
//
//	go run ./internal/dist -version v1.2.0 -plugins "exec files" -out dist linux/amd64 windows/amd64
//
// The Makefile's dist target names the plugins and platforms (PLUGINS,
// DIST_PLATFORMS).
package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// versionVar is the variable make build stamps the version into.
const versionVar = "github.com/cajonfarm/cajon/host/version.Version"

// unitPrefix is where the Linux archive's systemd unit expects cajon:
// the archive unpacked into /opt/cajon.
const unitPrefix = "/opt/cajon"

// sumsFile lists the archives' SHA-256 sums, as sha256sum writes them.
const sumsFile = "SHA256SUMS"

func main() {
	version := flag.String("version", "dev", "the version stamped into the binaries and named in the archives")
	out := flag.String("out", "dist", "the folder the archives and SHA256SUMS are written to (earlier cajon-* archives there are removed)")
	repo := flag.String("repo", ".", "the repository's root")
	plugins := flag.String("plugins", "", "the plugins to ship, separated by spaces (the Makefile's PLUGINS)")
	goCmd := flag.String("go", "go", "the go command that builds (the Makefile's GO)")
	flag.Parse()
	if flag.NArg() == 0 || *plugins == "" {
		fmt.Fprintln(os.Stderr, "usage: dist -version V -plugins \"exec files ...\" [-out DIR] OS/ARCH...")
		os.Exit(2)
	}
	o := options{goCmd: *goCmd, repo: *repo, out: *out, version: *version, plugins: strings.Fields(*plugins), platforms: flag.Args(), log: os.Stderr}
	archives, notes, err := build(context.Background(), o)
	for _, n := range notes {
		fmt.Fprintln(os.Stderr, "dist: note:", n)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "dist:", err)
		os.Exit(1)
	}
	for _, a := range archives {
		fmt.Println(a)
	}
}

// options say what to build.
type options struct {
	goCmd              string // "" is go from PATH
	repo, out, version string
	plugins            []string  // names: plugins/NAME is built
	platforms          []string  // OS/ARCH
	log                io.Writer // each step is named as it starts
}

// file is one file of an archive.
type file struct {
	name string // the path inside the archive, with "/"
	data []byte
	exec bool
}

// build writes an archive per platform and SHA256SUMS into out, and
// returns the archives' paths. notes say what an archive lacks.
func build(ctx context.Context, o options) (archives, notes []string, err error) {
	if strings.ContainsAny(o.version, `/\ `) || o.version == "" {
		return nil, nil, fmt.Errorf("version %q cannot be part of a file name", o.version)
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return nil, nil, err
	}
	// Earlier archives go (their sums would be stale); nothing else in out
	// is touched.
	old, err := filepath.Glob(filepath.Join(o.out, "cajon-*"))
	if err != nil {
		return nil, nil, err
	}
	for _, f := range append(old, filepath.Join(o.out, sumsFile)) {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, nil, err
		}
	}
	common, notes, err := commonFiles(o.repo)
	if err != nil {
		return nil, nil, err
	}
	tmp, err := os.MkdirTemp("", "cajon-dist-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(tmp)
	for _, p := range o.platforms {
		goos, goarch, ok := strings.Cut(p, "/")
		if !ok {
			return nil, nil, fmt.Errorf("platform %q: write it as OS/ARCH, e.g. linux/amd64", p)
		}
		files, err := binaries(ctx, o, goos, goarch, filepath.Join(tmp, goos+"-"+goarch))
		if err != nil {
			return nil, nil, err
		}
		extra, err := platformFiles(o.repo, goos)
		if err != nil {
			return nil, nil, err
		}
		files = append(append(files, common...), extra...)
		top := fmt.Sprintf("cajon-%s-%s-%s", o.version, goos, goarch)
		name, pack := top+".tar.gz", tarArchive
		if goos == "windows" {
			name, pack = top+".zip", zipArchive
		}
		data, err := pack(top, files)
		if err != nil {
			return nil, nil, fmt.Errorf("packing %s: %w", name, err)
		}
		path := filepath.Join(o.out, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return nil, nil, err
		}
		archives = append(archives, path)
	}
	return archives, notes, writeSums(o.out, archives)
}

// binaries builds cajon and the plugins for goos/goarch into dir and
// returns them as archive files.
func binaries(ctx context.Context, o options, goos, goarch, dir string) ([]file, error) {
	exe := ""
	if goos == "windows" {
		exe = ".exe"
	}
	targets := []struct{ pkg, name string }{{"./cmd/cajon", "cajon" + exe}}
	for _, p := range o.plugins {
		targets = append(targets, struct{ pkg, name string }{"./plugins/" + p, "plugins/cajon-plugin-" + p + exe})
	}
	var files []file
	for _, t := range targets {
		fmt.Fprintf(o.log, "build %s/%s %s\n", goos, goarch, t.name)
		out := filepath.Join(dir, filepath.FromSlash(t.name))
		goCmd := o.goCmd
		if goCmd == "" {
			goCmd = "go"
		}
		cmd := exec.CommandContext(ctx, goCmd, "build", "-trimpath", "-ldflags", "-X "+versionVar+"="+o.version, "-o", out, t.pkg)
		cmd.Dir = o.repo
		cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("building %s for %s/%s: %w\n%s", t.pkg, goos, goarch, err, msg)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			return nil, err
		}
		files = append(files, file{name: t.name, data: data, exec: true})
	}
	return files, nil
}

// commonFiles are the files every archive holds; a missing LICENSE is a note.
func commonFiles(repo string) ([]file, []string, error) {
	var files []file
	var notes []string
	for _, f := range []struct{ src, name string }{
		{"examples/cajon.toml", "cajon.toml"},
		{"README.md", "README.md"},
		{"LICENSE", "LICENSE"},
	} {
		data, err := os.ReadFile(filepath.Join(repo, f.src))
		if errors.Is(err, fs.ErrNotExist) && f.name == "LICENSE" {
			notes = append(notes, "the repository has no LICENSE file: the archives carry no licence")
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		files = append(files, file{name: f.name, data: data})
	}
	return files, notes, nil
}

// platformFiles are the files of one OS: how to run cajon as a service.
func platformFiles(repo, goos string) ([]file, error) {
	switch goos {
	case "linux":
		unit, err := os.ReadFile(filepath.Join(repo, "examples", "cajon-worker.service"))
		if err != nil {
			return nil, err
		}
		unit = bytes.ReplaceAll(unit, []byte("/usr/local/bin/cajon"), []byte(unitPrefix+"/cajon"))
		return []file{{name: "cajon-worker.service", data: unit}}, nil
	case "windows":
		notes, err := os.ReadFile(filepath.Join(repo, "docs", "WINDOWS.md"))
		if err != nil {
			return nil, err
		}
		return []file{{name: "WINDOWS.md", data: notes}}, nil
	}
	return nil, nil
}

// modTime is the time the archives' entries carry.
func modTime() time.Time { return time.Now().UTC().Truncate(time.Second) }

// mode is a file's permission in an archive: cajon refuses plugins that
// group or others may write.
func mode(f file) int64 {
	if f.exec {
		return 0o755
	}
	return 0o644
}

// tarArchive packs files under top/ as a gzipped tar.
func tarArchive(top string, files []file) ([]byte, error) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	now := modTime()
	for _, dir := range dirsOf(top, files) {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0o755, ModTime: now}); err != nil {
			return nil, err
		}
	}
	for _, f := range files {
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: top + "/" + f.name, Mode: mode(f), Size: int64(len(f.data)), ModTime: now}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// zipArchive packs files under top/ as a zip.
func zipArchive(top string, files []file) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	now := modTime()
	for _, dir := range dirsOf(top, files) {
		h := &zip.FileHeader{Name: dir + "/", Modified: now}
		h.SetMode(fs.ModeDir | 0o755)
		if _, err := zw.CreateHeader(h); err != nil {
			return nil, err
		}
	}
	for _, f := range files {
		h := &zip.FileHeader{Name: top + "/" + f.name, Method: zip.Deflate, Modified: now}
		h.SetMode(fs.FileMode(mode(f)))
		w, err := zw.CreateHeader(h)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// dirsOf lists top and the folders of files under it, parents first.
func dirsOf(top string, files []file) []string {
	seen := map[string]bool{top: true}
	dirs := []string{top}
	for _, f := range files {
		parts := strings.Split(f.name, "/")
		for i := 1; i < len(parts); i++ {
			d := top + "/" + strings.Join(parts[:i], "/")
			if !seen[d] {
				seen[d] = true
				dirs = append(dirs, d)
			}
		}
	}
	sort.Strings(dirs)
	return dirs
}

// writeSums writes SHA256SUMS for the archives, as sha256sum does, so that
// `sha256sum -c SHA256SUMS` checks them.
func writeSums(out string, archives []string) error {
	var b strings.Builder
	for _, a := range archives {
		data, err := os.ReadFile(a)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(sum[:]), filepath.Base(a))
	}
	return os.WriteFile(filepath.Join(out, sumsFile), []byte(b.String()), 0o644)
}
