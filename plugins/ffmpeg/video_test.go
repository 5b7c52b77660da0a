package main

import (
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/sdk/sdktest"
	"github.com/cajonfarm/cajon/sdk/wire"
)

// needFFmpeg skips the test when ffmpeg or ffprobe is missing.
func needFFmpeg(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (not in PATH): skipping the tests that encode; CI installs it from the Debian package", tool)
		}
	}
}

// writeFrames writes n 64x36 grey PNG frames named frame1.png ... framen.png
// (no zero padding, so that lexical order is wrong), frame i of brightness
// shade(i).
func writeFrames(t *testing.T, dir string, n int) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		img := image.NewGray(image.Rect(0, 0, 64, 36))
		for p := range img.Pix {
			img.Pix[p] = shade(i)
		}
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("frame%d.png", i)))
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
}

func shade(i int) uint8 { return uint8(16 + 16*i) }

// probe is what ffprobe says about a video's first stream.
type probe struct {
	Streams []struct {
		Width        int    `json:"width"`
		Height       int    `json:"height"`
		NbReadFrames string `json:"nb_read_frames"`
		RFrameRate   string `json:"r_frame_rate"`
	} `json:"streams"`
	Format struct {
		Duration string `json:"duration"`
	} `json:"format"`
}

func ffprobe(t *testing.T, video string) probe {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=width,height,nb_read_frames,r_frame_rate", "-show_entries", "format=duration",
		"-of", "json", video).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", video, err)
	}
	var p probe
	if err := json.Unmarshal(out, &p); err != nil || len(p.Streams) != 1 {
		t.Fatalf("ffprobe %s said %s (%v)", video, out, err)
	}
	return p
}

// frameShades decodes the video to 8-bit grey and returns each frame's
// brightness in the middle.
func frameShades(t *testing.T, video string) []uint8 {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-v", "error", "-i", video, "-f", "rawvideo", "-pix_fmt", "gray", "-").Output()
	if err != nil {
		t.Fatalf("decoding %s: %v", video, err)
	}
	const size = 64 * 36
	var shades []uint8
	for off := 0; off+size <= len(out); off += size {
		shades = append(shades, out[off+18*64+32])
	}
	return shades
}

// progressLine is a line of FFmpeg's -progress output.
var progressLine = regexp.MustCompile(`^(frame=\d+|progress=\w+|out_time_us=\d+)$`)

func TestFramesToVideo(t *testing.T) {
	needFFmpeg(t)
	tmp := t.TempDir() // where a frame list or links would go
	t.Setenv("TMPDIR", tmp)
	// A quote in the folder name, which FFmpeg's input must take as it is.
	dir := filepath.Join(t.TempDir(), "it's frames")
	writeFrames(t, dir, 12)
	video := filepath.Join(t.TempDir(), "out", "video.mp4")

	// The parameters as the Simple Blender Render job type sends them.
	res := sdktest.Run(t, plugin(), "frames-to-video", map[string]any{
		"exe":        "ffmpeg",
		"exeArgs":    "-hide_banner",
		"fps":        24,
		"inputGlob":  filepath.Join(dir, "frame*.png"),
		"outputFile": video,
		"argsBefore": []any{},
		"args": []any{"-c:v", "h264", "-crf", "0", "-g", "18", "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2",
			"-pix_fmt", "yuv420p", "-r", "24", "-y"},
	})
	if res.Status != sdktest.Completed {
		t.Fatalf("%s: %s\n%s", res.Status, res.Message, strings.Join(res.Lines, "\n"))
	}
	if len(res.Outputs) != 1 || res.Outputs[0] != (sdktest.Output{Path: video, MIMEType: "video/mp4"}) {
		t.Errorf("outputs %+v, want only %s as video/mp4", res.Outputs, video)
	}
	last := res.Progress[len(res.Progress)-1]
	if last.StepsDone != 12 || last.StepsTotal != 12 {
		t.Errorf("last progress %+v, want 12 of 12", last)
	}
	for _, l := range res.Lines {
		if progressLine.MatchString(l) {
			t.Errorf("progress output reached the log: %q", l)
		}
	}

	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("temporary files left in %s: %v", tmp, left)
	}

	p := ffprobe(t, video)
	s := p.Streams[0]
	if s.NbReadFrames != "12" || s.RFrameRate != "24/1" || s.Width != 64 || s.Height != 36 {
		t.Errorf("video has %s frames at %s, %dx%d; want 12 at 24/1, 64x36", s.NbReadFrames, s.RFrameRate, s.Width, s.Height)
	}
	if d, err := strconv.ParseFloat(p.Format.Duration, 64); err != nil || d < 0.499 || d > 0.501 {
		t.Errorf("video lasts %s s, want 0.5 (12 frames at 24 fps)", p.Format.Duration)
	}
	// Natural order: frame2 before frame10, so brightness only goes up.
	shades := frameShades(t, video)
	if len(shades) != 12 {
		t.Fatalf("decoded %d frames", len(shades))
	}
	for i, got := range shades {
		if want := shade(i + 1); got+3 < want || got > want+3 {
			t.Errorf("frame %d has brightness %d, want about %d (frame%d.png): frames out of order? %v", i+1, got, want, i+1, shades)
			break
		}
	}
}

func TestFramesToVideoFrameRates(t *testing.T) {
	needFFmpeg(t)
	dir := t.TempDir()
	writeFrames(t, dir, 10)
	// Read as a frame list without "option framerate", the last frame would
	// last 1/25 s and add frames at rates above 25; an image2 sequence at
	// -framerate gives every frame 1/fps s.
	for _, fps := range []float64{60, 29.97, 12} {
		video := filepath.Join(dir, fmt.Sprintf("v%g.mkv", fps))
		res := sdktest.Run(t, plugin(), "frames-to-video", map[string]any{
			"fps": fps, "inputGlob": filepath.Join(dir, "*.png"), "outputFile": video,
			"args": []any{"-c:v", "ffv1"},
		})
		if res.Status != sdktest.Completed {
			t.Fatalf("fps %g: %s: %s", fps, res.Status, res.Message)
		}
		if got := ffprobe(t, video).Streams[0].NbReadFrames; got != "10" {
			t.Errorf("fps %g: %s frames, want 10", fps, got)
		}
	}
}

// writeFrame writes one 64x36 grey frame of brightness shade(i), as PNG
// or, for a .jpg name, JPEG.
func writeFrame(t *testing.T, path string, i int) {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 64, 36))
	for p := range img.Pix {
		img.Pix[p] = shade(i)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if filepath.Ext(path) == ".jpg" {
		err = jpeg.Encode(f, img, &jpeg.Options{Quality: 100})
	} else {
		err = png.Encode(f, img)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestFramesToVideoWithoutASequence encodes frames that are not one
// numbered sequence with Debian's FFmpeg: frames with gaps (every second
// frame rendered) are linked as a sequence and keep their exact length at
// 60 fps.
func TestFramesToVideoWithoutASequence(t *testing.T) {
	needFFmpeg(t)
	for _, tt := range []struct {
		name string
		fps  float64
		file func(i int) string
		how  string
	}{
		{"gaps", 60, func(i int) string { return fmt.Sprintf("frame%d.png", 2*i) }, "linked as a numbered sequence"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			dir := t.TempDir()
			const n = 10
			for i := 1; i <= n; i++ {
				writeFrame(t, filepath.Join(dir, tt.file(i)), i)
			}
			video := filepath.Join(t.TempDir(), "v.mkv")
			res := sdktest.Run(t, plugin(), "frames-to-video", map[string]any{
				"fps": tt.fps, "inputGlob": filepath.Join(dir, "frame*"), "outputFile": video,
				"args": []any{"-c:v", "ffv1", "-r", strconv.FormatFloat(tt.fps, 'f', -1, 64)},
			})
			if res.Status != sdktest.Completed {
				t.Fatalf("%s: %s\n%s", res.Status, res.Message, strings.Join(res.Lines, "\n"))
			}
			if !strings.Contains(strings.Join(res.Lines, "\n"), tt.how) {
				t.Errorf("the log does not say the frames were read as %q:\n%s", tt.how, strings.Join(res.Lines, "\n"))
			}
			if got := ffprobe(t, video).Streams[0].NbReadFrames; got != strconv.Itoa(n) {
				t.Errorf("%s frames, want %d", got, n)
			}
			shades := frameShades(t, video)
			for i, got := range shades {
				if want := shade(i + 1); got+3 < want || got > want+3 {
					t.Errorf("frame %d has brightness %d, want about %d: %v", i+1, got, want, shades)
					break
				}
			}
			if left, _ := os.ReadDir(tmp); len(left) > 0 {
				t.Errorf("temporary files left in %s: %v", tmp, left)
			}
		})
	}
}

// TestConcatListEncodes: the concat list, the way in when frames cannot be
// linked, is read by Debian's FFmpeg (TestConcatListNeedsNoNewFFmpeg checks
// that it holds only what FFmpeg 4.2 reads), every frame in order.
func TestConcatListEncodes(t *testing.T) {
	needFFmpeg(t)
	dir := t.TempDir()
	const n = 10
	var frames []string
	for i := 1; i <= n; i++ {
		frames = append(frames, filepath.Join(dir, fmt.Sprintf("it's %c.png", 'a'+i)))
		writeFrame(t, frames[i-1], i)
	}
	in, err := concatInput(frames, 24, t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	video := filepath.Join(dir, "v.mkv")
	if out, err := exec.Command("ffmpeg", ffmpegArgs([]string{"-v", "error"}, in, nil, []string{"-c:v", "ffv1", "-r", "24"}, video)...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	if got := ffprobe(t, video).Streams[0].NbReadFrames; got != strconv.Itoa(n) {
		t.Errorf("%s frames, want %d", got, n)
	}
	shades := frameShades(t, video)
	for i, got := range shades {
		if want := shade(i + 1); got+3 < want || got > want+3 {
			t.Errorf("frame %d has brightness %d, want about %d: %v", i+1, got, want, shades)
			break
		}
	}
}

// TestFramesToVideoFindsBundledFFmpeg: with exe "ffmpeg" (what the Manager
// sends), a Flamenco worker bundle's tools/ffmpeg-<os>-<arch> beside the
// worker is used, even when PATH has no FFmpeg.
func TestFramesToVideoFindsBundledFFmpeg(t *testing.T) {
	needFFmpeg(t)
	if runtime.GOOS == "windows" {
		t.Skip("the stand-in bundled FFmpeg is a shell script")
	}
	real, _ := exec.LookPath("ffmpeg")
	host := t.TempDir()
	marker := filepath.Join(host, "used")
	bundled := filepath.Join(host, "tools", "ffmpeg-"+runtime.GOOS+"-"+runtime.GOARCH)
	if err := os.MkdirAll(filepath.Dir(bundled), 0o755); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf("#!/bin/sh\necho bundled > '%s'\nexec '%s' \"$@\"\n", marker, real)
	if err := os.WriteFile(bundled, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFrames(t, dir, 3)
	t.Setenv(wire.EnvHostDir, host)
	t.Setenv("PATH", t.TempDir())
	for _, exe := range []string{"ffmpeg", "ffmpeg.exe"} {
		os.Remove(marker)
		res := sdktest.Run(t, plugin(), "frames-to-video", map[string]any{
			"exe": exe, "fps": 24, "inputGlob": filepath.Join(dir, "*.png"), "outputFile": filepath.Join(dir, "v.mkv"),
			"args": []any{"-c:v", "ffv1", "-y"},
		})
		if res.Status != sdktest.Completed {
			t.Fatalf("exe %q: %s: %s", exe, res.Status, res.Message)
		}
		if _, err := os.Stat(marker); err != nil {
			t.Errorf("exe %q: the bundled FFmpeg %s was not used", exe, bundled)
		}
	}
	t.Setenv(wire.EnvHostDir, t.TempDir())
	res := sdktest.Run(t, plugin(), "frames-to-video", map[string]any{
		"exe": "ffmpeg", "fps": 24, "inputGlob": filepath.Join(dir, "*.png"), "outputFile": filepath.Join(dir, "v.mkv"),
	})
	if res.Status != sdktest.Failed || !strings.Contains(res.Message, "tools") || !strings.Contains(res.Message, "not in PATH") {
		t.Errorf("without FFmpeg anywhere: %s %q; want failed, naming tools/ and PATH", res.Status, res.Message)
	}
}

func TestFramesToVideoFailures(t *testing.T) {
	needFFmpeg(t)
	tmp := t.TempDir() // where the concat lists go
	t.Setenv("TMPDIR", tmp)
	dir := t.TempDir()
	writeFrames(t, dir, 2)
	tests := []struct {
		name   string
		params map[string]any
		config map[string]any
		want   []string
	}{
		{"no frames",
			map[string]any{"fps": 24, "inputGlob": filepath.Join(dir, "*.exr"), "outputFile": filepath.Join(dir, "v.mp4")},
			nil, []string{"no frames match inputGlob", filepath.Join(dir, "*.exr")}},
		{"fps missing",
			map[string]any{"inputGlob": filepath.Join(dir, "*.png"), "outputFile": filepath.Join(dir, "v.mp4")},
			nil, []string{`"fps" is required`}},
		{"fps zero",
			map[string]any{"fps": 0, "inputGlob": filepath.Join(dir, "*.png"), "outputFile": filepath.Join(dir, "v.mp4")},
			nil, []string{"fps must be a positive number"}},
		{"ffmpeg fails",
			map[string]any{"fps": 24, "inputGlob": filepath.Join(dir, "*.png"), "outputFile": filepath.Join(dir, "v.mp4"),
				"args": []any{"-c:v", "no-such-encoder"}},
			nil, []string{"FFmpeg exited with status", "no-such-encoder"}},
		{"ffmpeg not found",
			map[string]any{"fps": 24, "inputGlob": filepath.Join(dir, "*.png"), "outputFile": filepath.Join(dir, "v.mp4")},
			map[string]any{"exe": "/opt/none/ffmpeg"}, []string{"[plugins.ffmpeg] exe", "/opt/none/ffmpeg does not exist"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := sdktest.Run(t, plugin(), "frames-to-video", tt.params, sdktest.Options{Config: tt.config})
			if res.Status != sdktest.Failed {
				t.Fatalf("%s, want failed", res.Status)
			}
			t.Logf("message: %s", res.Message)
			for _, w := range tt.want {
				if !strings.Contains(res.Message, w) {
					t.Errorf("message %q does not say %q", res.Message, w)
				}
			}
		})
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("temporary files left in %s: %v", tmp, left)
	}
}

func TestDescribe(t *testing.T) {
	d := sdktest.Describe(t, plugin())
	if d.GetName() != "ffmpeg" || len(d.GetCommands()) != 1 {
		t.Fatalf("Describe = %v", d)
	}
	c := d.GetCommands()[0]
	var names []string
	for _, p := range c.GetParams() {
		names = append(names, p.GetName())
	}
	if c.GetName() != "frames-to-video" || c.GetTaskType() != "ffmpeg" ||
		strings.Join(names, ",") != "exe,exeArgs,fps,inputGlob,outputFile,argsBefore,args" {
		t.Errorf("%s (%s) with %v", c.GetName(), c.GetTaskType(), names)
	}
}
