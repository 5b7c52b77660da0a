package main

import (
	"bufio"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cajonfarm/cajon/plugins/internal/ospath"
	"github.com/cajonfarm/cajon/sdk"
)

// Previews are small JPEGs of rendered frames that the host can upload to the
// Manager (it shows them as the job's latest image). They live in
// <temp>/cajon-preview/<run id>/ and are reported as outputs of MIME type
// image/jpeg right after the frame they show; the host deletes them once it
// has dealt with them. See docs/PLUGINS-RENDER.md.
const (
	// previewMaxW and previewMaxH bound a preview, in pixels: the largest
	// image the Manager shows (its last-rendered.jpg, fitted into 1920x1080
	// without enlarging). The stock worker uploads the full frame and the
	// Manager shrinks it to that; a preview already that size shows the
	// same, and a 4K or 8K frame does not cross the network in full.
	previewMaxW, previewMaxH = 1920, 1080
	// previewQuality is the JPEG quality of previews.
	previewQuality = 85
	// previewMaxPixels refuses to decode absurdly large images (memory).
	previewMaxPixels = 150 << 20
	// previewStaleAge is when a left-behind preview folder is removed.
	previewStaleAge = 24 * time.Hour
)

// previewBackground is what transparent pixels are shown over: a neutral
// grey, so that both dark and light renders stay visible.
var previewBackground = color.RGBA{R: 64, G: 64, B: 64, A: 255}

// goDecodes reports whether makePreview can read the file (PNG, JPEG).
func goDecodes(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".png", ".jpg", ".jpeg":
		return true
	}
	return false
}

// makePreview writes a JPEG of the PNG or JPEG image src, shrunk to fit
// maxW x maxH (never enlarged), to dst.
func makePreview(src, dst string, maxW, maxH int) error {
	img, err := decodeImage(src)
	if err != nil {
		return err
	}
	small := shrink(img, maxW, maxH, previewBackground)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("creating the preview folder: %w", err)
	}
	f, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("creating preview %s: %w", dst, err)
	}
	w := bufio.NewWriter(f)
	err = jpeg.Encode(w, small, &jpeg.Options{Quality: previewQuality})
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dst)
		return fmt.Errorf("writing preview %s: %w", dst, err)
	}
	return nil
}

// decodeImage reads a PNG or JPEG file, refusing huge ones.
func decodeImage(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening %s for a preview: %w", path, err)
	}
	defer f.Close()
	decodeConfig, decode := png.DecodeConfig, png.Decode
	if ext := strings.ToLower(filepath.Ext(path)); ext == ".jpg" || ext == ".jpeg" {
		decodeConfig, decode = jpeg.DecodeConfig, jpeg.Decode
	}
	cfg, err := decodeConfig(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("reading %s for a preview: %w", path, err)
	}
	if cfg.Width*cfg.Height > previewMaxPixels {
		return nil, fmt.Errorf("%s is %dx%d pixels, too large for a preview", path, cfg.Width, cfg.Height)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("reading %s for a preview: %w", path, err)
	}
	img, err := decode(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("decoding %s for a preview: %w", path, err)
	}
	return img, nil
}

// previewSize fits w x h into maxW x maxH, keeping the aspect ratio and
// never enlarging; both sides stay at least 1.
func previewSize(w, h, maxW, maxH int) (int, int) {
	if w <= maxW && h <= maxH {
		return w, h
	}
	if w*maxH >= h*maxW { // wider than the box: the width decides
		return maxW, max(1, (h*maxW+w/2)/w)
	}
	return max(1, (w*maxH+h/2)/h), maxH
}

// shrink scales img down to fit maxW x maxH by averaging the source pixels that
// fall into each preview pixel (a box filter: right for large reductions, and
// it reads every source pixel once), over an opaque background.
func shrink(img image.Image, maxW, maxH int, bg color.RGBA) *image.RGBA {
	b := img.Bounds()
	src, ok := img.(*image.RGBA)
	if !ok {
		// The standard library's fast paths cover 8-bit PNG and JPEG; 16-bit
		// PNG takes the generic path, still fine for one preview per frame.
		src = image.NewRGBA(b)
		draw.Draw(src, b, img, b.Min, draw.Src)
	}
	sw, sh := b.Dx(), b.Dy()
	dw, dh := previewSize(sw, sh, maxW, maxH)
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	xs := make([]int, dw+1)
	for x := range xs {
		xs[x] = x * sw / dw
	}
	for y := 0; y < dh; y++ {
		y0, y1 := y*sh/dh, (y+1)*sh/dh
		if y1 == y0 {
			y1 = y0 + 1
		}
		for x := 0; x < dw; x++ {
			x0, x1 := xs[x], xs[x+1]
			if x1 == x0 {
				x1 = x0 + 1
			}
			var r, g, bl, a uint64
			for sy := y0; sy < y1; sy++ {
				off := src.PixOffset(b.Min.X+x0, b.Min.Y+sy)
				row := src.Pix[off : off+(x1-x0)*4]
				for i := 0; i < len(row); i += 4 {
					r += uint64(row[i])
					g += uint64(row[i+1])
					bl += uint64(row[i+2])
					a += uint64(row[i+3])
				}
			}
			n := uint64((x1 - x0) * (y1 - y0))
			// Premultiplied colour over the background: c + bg*(1-alpha).
			inv := 255*n - a
			i := dst.PixOffset(x, y)
			dst.Pix[i] = uint8((r*255 + uint64(bg.R)*inv) / (255 * n))
			dst.Pix[i+1] = uint8((g*255 + uint64(bg.G)*inv) / (255 * n))
			dst.Pix[i+2] = uint8((bl*255 + uint64(bg.B)*inv) / (255 * n))
			dst.Pix[i+3] = 255
		}
	}
	return dst
}

// previewDir is the folder for one run's previews under root (normally
// os.TempDir()). The run id is made safe as a file name.
func previewDir(root, runID string) string {
	safe := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, runID)
	if safe == "" || strings.Trim(safe, ".") == "" {
		safe = "run"
	}
	return filepath.Join(root, sdk.PreviewFolder, safe)
}

// previewName is the file name of the n-th preview of a run, made from the
// frame's own name, a path in syntax s: "0003-000012.jpg".
func previewName(s ospath.Syntax, n int, frame string) string {
	base := s.Base(frame)
	return fmt.Sprintf("%04d-%s.jpg", n, strings.TrimSuffix(base, s.Ext(base)))
}

// removeStalePreviews deletes run folders under root/cajon-preview older than
// maxAge: previews the host never got to (a crash). Errors are ignored: this
// is housekeeping.
func removeStalePreviews(root string, maxAge time.Duration, now time.Time) {
	base := filepath.Join(root, sdk.PreviewFolder)
	entries, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !e.IsDir() || now.Sub(info.ModTime()) < maxAge {
			continue
		}
		os.RemoveAll(filepath.Join(base, e.Name()))
	}
}
