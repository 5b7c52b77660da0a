package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cajonfarm/cajon/plugins/internal/cmdline"
	"github.com/cajonfarm/cajon/sdk/process"
)

// Frames in formats Go's standard library cannot read (EXR, TIFF) get their
// preview from ffmpeg, a well-kept decoder that render nodes have anyway for
// frames-to-video. Without it those frames get no preview.

// previewTimeout bounds one ffmpeg preview: a preview is never worth a stuck
// render.
const previewTimeout = time.Minute

// ffmpegInputArgs returns the ffmpeg input options for a frame that only
// ffmpeg can read, and false for other frames.
func ffmpegInputArgs(path string) ([]string, bool) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".exr":
		// EXR holds linear light; shown as is it looks dark. Convert to sRGB.
		return []string{"-apply_trc", "iec61966_2_1"}, true
	case ".tif", ".tiff":
		return nil, true
	}
	return nil, false
}

// execer starts contained child processes: *sdk.Run in a render.
type execer interface {
	Exec(ctx context.Context, c process.Command) (process.Result, error)
}

// makePreviewFFmpeg writes a JPEG of src, shrunk to fit maxW x maxH (never
// enlarged), to dst with ffmpeg. The ffmpeg process is contained in the
// run's process tree like Blender, so an abort stops it too.
func makePreviewFFmpeg(ctx context.Context, run execer, ffmpeg, src, dst string, maxW, maxH int) error {
	in, _ := ffmpegInputArgs(src)
	if strings.EqualFold(filepath.Ext(src), ".exr") {
		channels, err := exrChannels(src)
		var pathErr *fs.PathError
		switch {
		case errors.As(err, &pathErr):
			return err // it names the file
		case err != nil:
			return fmt.Errorf("%s: %w", src, err)
		}
		layer, ok := exrPreviewLayer(channels)
		if !ok {
			return fmt.Errorf("%s has no layer with R, G and B channels to show (channels %s)", src, strings.Join(channels, ", "))
		}
		if layer != "" {
			// A multilayer EXR: FFmpeg reads only the layer it is told.
			in = append([]string{"-layer", layer}, in...)
		}
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("creating the preview folder: %w", err)
	}
	args := append([]string{"-hide_banner", "-nostdin", "-v", "error", "-y"}, in...)
	args = append(args, "-i", src, "-frames:v", "1", "-update", "1",
		"-vf", fmt.Sprintf("scale=w='min(%d,iw)':h='min(%d,ih)':force_original_aspect_ratio=decrease", maxW, maxH),
		"-q:v", "3", dst)
	ctx, cancel := context.WithTimeout(ctx, previewTimeout)
	defer cancel()
	said := cmdline.NewTail(3) // ffmpeg's last lines, for the error
	res, err := run.Exec(ctx, process.Command{
		Path:   ffmpeg,
		Args:   args,
		Grace:  time.Second,
		OnLine: func(_ process.Stream, line string) { said.Add(line) },
	})
	switch {
	case err != nil:
		err = fmt.Errorf("running %s for a preview of %s: %w", ffmpeg, src, err)
	case res.ExitCode != 0:
		err = fmt.Errorf("%s could not make a preview of %s (exit status %d): %s", ffmpeg, src, res.ExitCode, strings.Join(said.Lines(), " / "))
	}
	if err != nil {
		os.Remove(dst)
		return err
	}
	return nil
}
