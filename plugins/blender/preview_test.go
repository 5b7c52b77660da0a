package main

import (
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/plugins/internal/ospath"
)

func TestPreviewSize(t *testing.T) {
	tests := []struct{ w, h, max, ww, wh int }{
		{64, 36, 512, 64, 36},
		{512, 512, 512, 512, 512},
		{1920, 1080, 512, 512, 288},
		{3840, 2160, 512, 512, 288},
		{1080, 1920, 512, 288, 512},
		{10000, 1, 512, 512, 1},
		{1, 10000, 512, 1, 512},
		{2048, 858, 512, 512, 215}, // 2.39:1, rounded
	}
	for _, tt := range tests {
		if w, h := previewSize(tt.w, tt.h, tt.max, tt.max); w != tt.ww || h != tt.wh {
			t.Errorf("previewSize(%d, %d, %d) = %dx%d, want %dx%d", tt.w, tt.h, tt.max, w, h, tt.ww, tt.wh)
		}
	}
}

// The preview box is the Manager's largest view, 1920x1080: frames fit it
// whatever their shape.
func TestPreviewSizeManagerBox(t *testing.T) {
	tests := []struct{ w, h, ww, wh int }{
		{1920, 1080, 1920, 1080},
		{3840, 2160, 1920, 1080},
		{4096, 1716, 1920, 804}, // 2.39:1: the width decides
		{1080, 1920, 608, 1080}, // portrait: the height decides
		{2048, 2048, 1080, 1080},
		{640, 480, 640, 480},
	}
	for _, tt := range tests {
		if w, h := previewSize(tt.w, tt.h, previewMaxW, previewMaxH); w != tt.ww || h != tt.wh {
			t.Errorf("previewSize(%d, %d) in the Manager's box = %dx%d, want %dx%d", tt.w, tt.h, w, h, tt.ww, tt.wh)
		}
	}
}

func writePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func readJPEG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := jpeg.Decode(f)
	if err != nil {
		t.Fatalf("preview %s is not a JPEG: %v", path, err)
	}
	return img
}

// near reports whether two 8-bit channel values differ by at most JPEG noise.
func near(a, b uint32) bool {
	a, b = a>>8, b>>8
	return a+6 >= b && b+6 >= a
}

func TestMakePreview(t *testing.T) {
	dir := t.TempDir()
	// Left half opaque red, right half fully transparent: the preview must
	// show red and the grey background, at the reduced size.
	nrgba := image.NewNRGBA(image.Rect(0, 0, 1024, 400))
	deep := image.NewNRGBA64(image.Rect(0, 0, 1024, 400)) // 16-bit, as Blender writes with color depth 16
	for y := 0; y < 400; y++ {
		for x := 0; x < 512; x++ {
			nrgba.Set(x, y, color.NRGBA{R: 255, A: 255})
			deep.Set(x, y, color.NRGBA{R: 255, A: 255})
		}
	}
	rgbJPEG := image.NewRGBA(image.Rect(0, 0, 300, 200))
	for i := range rgbJPEG.Pix {
		rgbJPEG.Pix[i] = 200
	}
	jpgPath := filepath.Join(dir, "small.jpg")
	f, err := os.Create(jpgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := jpeg.Encode(f, rgbJPEG, nil); err != nil {
		t.Fatal(err)
	}
	f.Close()
	writePNG(t, filepath.Join(dir, "frame8.png"), nrgba)
	writePNG(t, filepath.Join(dir, "frame16.png"), deep)

	tests := []struct {
		src         string
		w, h        int
		left, right color.Color
	}{
		{"frame8.png", 512, 200, color.RGBA{R: 255, A: 255}, previewBackground},
		{"frame16.png", 512, 200, color.RGBA{R: 255, A: 255}, previewBackground},
		{"small.jpg", 300, 200, color.RGBA{R: 200, G: 200, B: 200, A: 255}, color.RGBA{R: 200, G: 200, B: 200, A: 255}},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			dst := filepath.Join(dir, "previews", tt.src+".jpg")
			if err := makePreview(filepath.Join(dir, tt.src), dst, 512, 512); err != nil {
				t.Fatal(err)
			}
			img := readJPEG(t, dst)
			if b := img.Bounds(); b.Dx() != tt.w || b.Dy() != tt.h {
				t.Fatalf("preview is %dx%d, want %dx%d", b.Dx(), b.Dy(), tt.w, tt.h)
			}
			for _, probe := range []struct {
				x    int
				want color.Color
			}{{tt.w / 4, tt.left}, {3 * tt.w / 4, tt.right}} {
				gr, gg, gb, _ := img.At(probe.x, tt.h/2).RGBA()
				wr, wg, wb, _ := probe.want.RGBA()
				if !near(gr, wr) || !near(gg, wg) || !near(gb, wb) {
					t.Errorf("pixel at x=%d is %v, want about %v", probe.x, img.At(probe.x, tt.h/2), probe.want)
				}
			}
		})
	}
}

func TestMakePreviewErrors(t *testing.T) {
	dir := t.TempDir()
	notPNG := filepath.Join(dir, "broken.png")
	if err := os.WriteFile(notPNG, []byte("not a png"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{notPNG, filepath.Join(dir, "missing.png")} {
		err := makePreview(src, filepath.Join(dir, "p.jpg"), 512, 512)
		if err == nil || !strings.Contains(err.Error(), src) {
			t.Errorf("makePreview(%s) = %v, want an error naming the file", src, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "p.jpg")); !os.IsNotExist(err) {
		t.Errorf("a failed preview left a file behind: %v", err)
	}
}

func TestPreviewPaths(t *testing.T) {
	root := filepath.FromSlash("/tmp")
	tests := []struct{ runID, want string }{
		{"3f2a-77", filepath.Join(root, "cajon-preview", "3f2a-77")},
		{"../../etc", filepath.Join(root, "cajon-preview", ".._.._etc")},
		{"..", filepath.Join(root, "cajon-preview", "run")},
		{"", filepath.Join(root, "cajon-preview", "run")},
	}
	for _, tt := range tests {
		if got := previewDir(root, tt.runID); got != tt.want {
			t.Errorf("previewDir(%q) = %q, want %q", tt.runID, got, tt.want)
		}
	}
	if got := previewName(ospath.Unix, 3, "/r/shot/000012.png"); got != "0003-000012.jpg" {
		t.Errorf("previewName = %q", got)
	}
	for path, want := range map[string]bool{"a.png": true, "A.JPG": true, "b.jpeg": true, "c.exr": false, "d.tif": false, "png": false} {
		if goDecodes(path) != want {
			t.Errorf("goDecodes(%q) = %v", path, !want)
		}
	}
}

func TestRemoveStalePreviews(t *testing.T) {
	root := t.TempDir()
	now := time.Now()
	old := previewDir(root, "old-run")
	fresh := previewDir(root, "fresh-run")
	for _, d := range []string{old, fresh} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "0001-x.jpg"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chtimes(old, now.Add(-48*time.Hour), now.Add(-48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	removeStalePreviews(root, previewStaleAge, now)
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("stale preview folder %s still there (%v)", old, err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh preview folder removed: %v", err)
	}
}

func TestEXRPreviewLayer(t *testing.T) {
	tests := []struct {
		name     string
		channels string
		layer    string
		ok       bool
	}{
		{"single layer", "A B G R", "", true},
		{"Blender multilayer", "ViewLayer.Combined.A ViewLayer.Combined.B ViewLayer.Combined.G ViewLayer.Combined.R ViewLayer.Depth.Z", "ViewLayer.Combined", true},
		{"combined of the first view layer", "Back.Combined.B Back.Combined.G Back.Combined.R Back.Diffuse.B Back.Diffuse.G Back.Diffuse.R Fore.Combined.B Fore.Combined.G Fore.Combined.R", "Back.Combined", true},
		{"combined preferred over other passes", "VL.AO.B VL.AO.G VL.AO.R VL.Combined.B VL.Combined.G VL.Combined.R", "VL.Combined", true},
		{"no combined pass", "VL.Diffuse.B VL.Diffuse.G VL.Diffuse.R VL.Depth.Z", "VL.Diffuse", true},
		{"no colour", "VL.Depth.Z VL.Combined.A", "", false},
		{"incomplete colour", "VL.Combined.R VL.Combined.G", "", false},
	}
	for _, tt := range tests {
		layer, ok := exrPreviewLayer(strings.Fields(tt.channels))
		if layer != tt.layer || ok != tt.ok {
			t.Errorf("%s: exrPreviewLayer = %q, %v; want %q, %v", tt.name, layer, ok, tt.layer, tt.ok)
		}
	}
}

func TestWithoutErrorWord(t *testing.T) {
	in := "Error while decoding stream #0:0: Not yet implemented in FFmpeg / ERROR: errors"
	got := withoutErrorWord(in)
	if strings.Contains(strings.ToLower(got), "error") {
		t.Errorf("withoutErrorWord(%q) = %q, still says error", in, got)
	}
	if !strings.Contains(got, "while decoding stream #0:0: Not yet implemented in FFmpeg") {
		t.Errorf("withoutErrorWord(%q) = %q lost the message", in, got)
	}
}
