package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
)

// shipped are the Makefile's PLUGINS.
var shipped = []string{"exec", "blender", "ffmpeg", "files"}

// TestArchiveRuns builds this platform's archive as make dist does,
// checks it against SHA256SUMS, unpacks it with tar into a temp folder and
// runs cajon from there: the version it was stamped with, and `cajon
// plugins` finding every plugin beside it with no config.
func TestArchiveRuns(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the Windows archive is a zip, unpacked and run by the wine lane")
	}
	if testing.Short() {
		t.Skip("builds cajon and every plugin")
	}
	tmp := t.TempDir()
	out := filepath.Join(tmp, "dist")
	const version = "v9.9.9-disttest"
	var log bytes.Buffer
	archives, notes, err := build(context.Background(), options{
		repo: filepath.Join("..", ".."), out: out, version: version, plugins: shipped,
		platforms: []string{runtime.GOOS + "/" + runtime.GOARCH}, log: &log,
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	top := "cajon-" + version + "-" + runtime.GOOS + "-" + runtime.GOARCH
	if len(archives) != 1 || filepath.Base(archives[0]) != top+".tar.gz" {
		t.Fatalf("archives %q", archives)
	}
	_, licenceErr := os.Stat(filepath.Join("..", "..", "LICENSE"))
	if hasLicence := licenceErr == nil; hasLicence == (len(notes) > 0) {
		t.Errorf("LICENSE exists: %v; notes %q", hasLicence, notes)
	}

	// SHA256SUMS as sha256sum writes it.
	data, err := os.ReadFile(archives[0])
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	sums, err := os.ReadFile(filepath.Join(out, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	if want := hex.EncodeToString(sum[:]) + "  " + top + ".tar.gz\n"; string(sums) != want {
		t.Errorf("SHA256SUMS is %q, want %q", sums, want)
	}

	unpacked := filepath.Join(tmp, "unpacked")
	if err := os.Mkdir(unpacked, 0o755); err != nil {
		t.Fatal(err)
	}
	if msg, err := exec.Command("tar", "-xzf", archives[0], "-C", unpacked).CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, msg)
	}
	dir := filepath.Join(unpacked, top)
	want := []string{"README.md", "cajon", "cajon.toml"}
	for _, p := range shipped {
		want = append(want, "plugins/cajon-plugin-"+p)
	}
	if runtime.GOOS == "linux" {
		want = append(want, "cajon-worker.service")
	}
	if licenceErr == nil {
		want = append(want, "LICENSE")
	}
	sort.Strings(want)
	if got := filesUnder(t, dir); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("the archive holds\n%q\nwant\n%q", got, want)
	}
	if runtime.GOOS == "linux" {
		unit, err := os.ReadFile(filepath.Join(dir, "cajon-worker.service"))
		if err != nil || !strings.Contains(string(unit), "\nExecStart=/opt/cajon/cajon run ") {
			t.Errorf("the unit does not start /opt/cajon/cajon: %v", err)
		}
	}

	home := filepath.Join(tmp, "home")
	env := []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "CAJON_STATE_DIR=" + filepath.Join(tmp, "state")}
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(filepath.Join(dir, "cajon"), args...)
		cmd.Dir, cmd.Env = dir, env
		got, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("cajon %s: %v\n%s", strings.Join(args, " "), err, got)
		}
		return string(got)
	}
	if got := run("version"); !strings.HasPrefix(got, "cajon "+version+" ") {
		t.Errorf("cajon version says %q, want %s", got, version)
	}
	listing := run("plugins")
	for _, p := range shipped {
		if !strings.Contains(listing, filepath.Join(dir, "plugins", "cajon-plugin-"+p)) {
			t.Errorf("cajon plugins does not list %s from the archive:\n%s", p, listing)
		}
	}
}

// filesUnder lists the regular files under dir, with "/", and checks that
// the programs are executable and nothing is writable by group or others.
func filesUnder(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		files = append(files, rel)
		isProgram := rel == "cajon" || strings.HasPrefix(rel, "plugins/")
		if perm := info.Mode().Perm(); perm&0o022 != 0 || isProgram != (perm&0o100 != 0) {
			t.Errorf("%s has mode %v", rel, perm)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	return files
}

// TestArchiveFormats packs the same files both ways: every file under the
// top folder with its mode, the folders listed before their files.
func TestArchiveFormats(t *testing.T) {
	files := []file{
		{name: "cajon.exe", data: []byte("MZ"), exec: true},
		{name: "plugins/cajon-plugin-exec.exe", data: []byte("MZ"), exec: true},
		{name: "WINDOWS.md", data: []byte("# Windows\n")},
	}
	want := map[string]os.FileMode{
		"top/": os.ModeDir | 0o755, "top/plugins/": os.ModeDir | 0o755,
		"top/cajon.exe": 0o755, "top/plugins/cajon-plugin-exec.exe": 0o755, "top/WINDOWS.md": 0o644,
	}
	check := func(format string, got map[string]os.FileMode, order []string) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("%s holds %v", format, got)
		}
		for name, mode := range want {
			if got[name] != mode {
				t.Errorf("%s: %s has mode %v, want %v", format, name, got[name], mode)
			}
		}
		seen := map[string]bool{}
		for _, name := range order {
			if dir := filepath.ToSlash(filepath.Dir(strings.TrimSuffix(name, "/"))) + "/"; dir != "./" && !seen[dir] {
				t.Errorf("%s: %s comes before its folder %s", format, name, dir)
			}
			seen[name] = true
		}
	}

	zipped, err := zipArchive("top", files)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if err != nil {
		t.Fatal(err)
	}
	got, order := map[string]os.FileMode{}, []string{}
	for _, f := range zr.File {
		got[f.Name], order = f.Mode()&(os.ModeDir|os.ModePerm), append(order, f.Name)
	}
	check("zip", got, order)

	tgz, err := tarArchive("top", files)
	if err != nil {
		t.Fatal(err)
	}
	gz, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	got, order = map[string]os.FileMode{}, nil
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name], order = h.FileInfo().Mode()&(os.ModeDir|os.ModePerm), append(order, h.Name)
	}
	check("tar", got, order)
}

func TestBadVersion(t *testing.T) {
	for _, v := range []string{"", "v1 beta", "a/b"} {
		if _, _, err := build(context.Background(), options{version: v, out: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "cannot be part of a file name") {
			t.Errorf("version %q: %v", v, err)
		}
	}
}

// TestEarlierArchivesGo: a new run removes the archives and sums of an
// earlier one, and nothing else in the folder.
func TestEarlierArchivesGo(t *testing.T) {
	out := t.TempDir()
	for _, name := range []string{"cajon-v1-linux-amd64.tar.gz", "cajon-v1-windows-amd64.zip", "SHA256SUMS", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(out, name), []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := build(context.Background(), options{repo: filepath.Join("..", ".."), out: out, version: "v2"}); err != nil {
		t.Fatal(err)
	}
	var names []string
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, " "); got != "SHA256SUMS notes.txt" {
		t.Errorf("the folder holds %s", got)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "SHA256SUMS")); len(b) != 0 {
		t.Errorf("SHA256SUMS of no archives is %q", b)
	}
}
