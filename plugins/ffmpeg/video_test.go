package main

import (
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/sdk/sdktest"
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
	tmp := t.TempDir() // where the concat list goes
	t.Setenv("TMPDIR", tmp)
	// A quote in the folder name exercises the concat list's escaping.
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
	// Without "option framerate" in the list, the last frame lasts 1/25 s
	// and adds frames at rates above 25.
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
