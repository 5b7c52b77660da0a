package main

import (
	"context"
	"fmt"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/sdk/process"
)

// needFFmpeg returns the ffmpeg to test with, or skips the test.
func needFFmpeg(t *testing.T) string {
	t.Helper()
	exe, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg is not installed (not in PATH): skipping the EXR and TIFF preview tests; CI installs it from the Debian package")
	}
	return exe
}

// directExec runs processes as sdk.Run.Exec does, without a plugin around.
type directExec struct{}

func (directExec) Exec(ctx context.Context, c process.Command) (process.Result, error) {
	return process.Run(ctx, c)
}

// brokenEXR writes an EXR that has a header and no pixels, and returns its
// path.
func brokenEXR(t *testing.T, dir string) string {
	t.Helper()
	var b []byte
	b = append(b, exrMagic...)
	b = append(b, 2, 0, 0, 0)
	b = append(b, "channels\x00chlist\x00"...)
	list := []byte{}
	for _, c := range []string{"B", "G", "R"} {
		list = append(list, c...)
		list = append(list, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0)
	}
	list = append(list, 0)
	b = append(b, byte(len(list)), 0, 0, 0)
	b = append(b, list...)
	b = append(b, 0)
	path := filepath.Join(dir, "cut.exr")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestMakePreviewFFmpeg(t *testing.T) {
	ffmpeg := needFFmpeg(t)
	dir := t.TempDir()
	// frame makes a test image with ffmpeg itself.
	frame := func(name string, w, h int) string {
		t.Helper()
		path := filepath.Join(dir, name)
		out, err := exec.Command(ffmpeg, "-v", "error", "-f", "lavfi", "-i", fmt.Sprintf("testsrc=size=%dx%d", w, h),
			"-frames:v", "1", "-update", "1", path).CombinedOutput()
		if err != nil {
			t.Fatalf("making %s: %v\n%s", name, err, out)
		}
		return path
	}
	tests := []struct {
		name   string
		src    string
		w, h   int
		errHas []string
	}{
		{name: "EXR shrunk", src: frame("wide.exr", 1024, 512), w: 512, h: 256},
		{name: "EXR never enlarged", src: frame("small.exr", 64, 36), w: 64, h: 36},
		{name: "TIFF portrait", src: frame("tall.tif", 300, 900), w: 171, h: 512},
		{name: "odd sizes", src: frame("odd.tiff", 333, 111), w: 333, h: 111},
		{name: "not an EXR", src: filepath.Join(dir, "broken.exr"), errHas: []string{filepath.Join(dir, "broken.exr") + ": not an OpenEXR file"}},
		{name: "EXR that FFmpeg cannot read", src: brokenEXR(t, dir), errHas: []string{"could not make a preview of " + filepath.Join(dir, "cut.exr"), "exit status"}},
		{name: "missing", src: filepath.Join(dir, "gone.exr"), errHas: []string{"gone.exr"}},
	}
	if err := os.WriteFile(filepath.Join(dir, "broken.exr"), []byte("this is no image"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := filepath.Join(dir, "previews", tt.name+".jpg")
			err := makePreviewFFmpeg(context.Background(), directExec{}, ffmpeg, tt.src, dst, 512, 512)
			if tt.errHas != nil {
				if err == nil {
					t.Fatal("no error")
				}
				for _, s := range tt.errHas {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not say %q", err, s)
					}
				}
				if _, serr := os.Stat(dst); serr == nil {
					t.Errorf("a failed preview left %s behind", dst)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(dst)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			cfg, err := jpeg.DecodeConfig(f)
			if err != nil || cfg.Width != tt.w || cfg.Height != tt.h {
				t.Errorf("preview %dx%d (%v), want a %dx%d JPEG", cfg.Width, cfg.Height, err, tt.w, tt.h)
			}
		})
	}
}
