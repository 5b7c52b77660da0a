//go:build unix

package realmanager

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The test scene's frame size (testdata/make_scene.py).
const frameWidth, frameHeight = 64, 36

// renderTools finds Blender, FFmpeg and ffprobe, or skips.
func renderTools(tb testing.TB) (blender, ffprobe string) {
	tb.Helper()
	for _, name := range []string{"blender", "ffmpeg", "ffprobe"} {
		p, err := exec.LookPath(name)
		if err != nil {
			tb.Skipf("%s is not installed: skipping the render on the real Manager (apt-get install blender ffmpeg)", name)
		}
		switch name {
		case "blender":
			blender = p
		case "ffprobe":
			ffprobe = p
		}
	}
	return blender, ffprobe
}

// makeScene saves the test scene as path.
func makeScene(tb testing.TB, blender, path string) {
	tb.Helper()
	script, err := filepath.Abs(filepath.Join("testdata", "make_scene.py"))
	if err != nil {
		tb.Fatal(err)
	}
	out, err := exec.Command(blender, "-b", "--factory-startup", "--python", script, "--", path).CombinedOutput()
	if err != nil {
		tb.Fatalf("making the test scene: %v\n%s", err, out)
	}
}

// renderJob is the settings of a stock Simple Blender Render job, as the
// Blender add-on would submit them (it evaluates render_output_path).
type renderJob struct {
	Frames string
	Chunk  int
	FPS    float64
	Blend  string
	OutDir string // render_output_path without its "######"
}

func (r renderJob) settings() map[string]any {
	return map[string]any{
		"frames":               r.Frames,
		"chunk_size":           r.Chunk,
		"render_output_root":   filepath.Dir(r.OutDir),
		"add_path_components":  0,
		"render_output_path":   filepath.Join(r.OutDir, "######"),
		"blendfile":            r.Blend,
		"fps":                  r.FPS,
		"format":               "PNG",
		"image_file_extension": ".png",
		"has_previews":         false,
		"scene":                "Scene",
	}
}

// TestSimpleBlenderRender runs the Manager's stock Simple Blender Render job:
// 10 frames in chunks of 1 at 23.976 fps (the fps reaches the worker as a
// JSON number inside the ffmpeg arguments), then checks the frames, the
// preview video with ffprobe and that the Manager took the preview images.
func TestSimpleBlenderRender(t *testing.T) {
	blender, ffprobe := renderTools(t)
	m := startManager(t)
	blend := filepath.Join(m.Shared, "tiny.blend")
	makeScene(t, blender, blend)
	startCajon(t, m, "cajon-render", cajonOptions{})
	m.waitWorker("cajon-render", "awake", 60*time.Second)

	r := renderJob{Frames: "1-10", Chunk: 1, FPS: 23.976, Blend: blend, OutDir: filepath.Join(m.Shared, "render", "tiny")}
	job := m.submit("simple-blender-render", "tiny render", r.settings())
	m.waitJob(job, "completed", 5*time.Minute)

	tasks := m.tasks(job)
	if len(tasks) != 11 {
		t.Errorf("the job has %d tasks, want 10 renders + 1 video", len(tasks))
	}
	// Every render task's log on the Manager says whether it ran in a warm
	// Blender or cold, and why; after the first, the job's frames run warm.
	warm := 0
	for _, tk := range tasks {
		if !strings.HasPrefix(tk.Name, "render-") {
			continue
		}
		log := string(m.taskLog(tk.ID))
		switch {
		case strings.Contains(log, "cajon-plugin-blender: warm: "):
			warm++
		case !strings.Contains(log, "cajon-plugin-blender: cold: "):
			t.Errorf("task %s: its log says neither warm nor cold:\n%s", tk.Name, log)
		}
	}
	if warm < 5 {
		t.Errorf("%d of 10 render tasks ran in a warm Blender session, want most of them", warm)
	}
	for f := 1; f <= 10; f++ {
		if _, err := os.Stat(filepath.Join(r.OutDir, fmt.Sprintf("%06d.png", f))); err != nil {
			t.Errorf("frame %d: %v", f, err)
		}
	}
	checkVideo(t, ffprobe, filepath.Join(r.OutDir, "tiny-1-10.mp4"), 10, r.FPS)
	// The Manager keeps the latest preview it accepted for the job.
	var last struct {
		Base     string   `json:"base"`
		Suffixes []string `json:"suffixes"`
	}
	if m.do("GET", "/api/v3/jobs/"+job+"/last-rendered", nil, &last, 200, 204) != 200 || last.Base == "" {
		t.Errorf("the Manager has no last-rendered image of the job: the previews did not arrive")
	}
}

// checkVideo checks a preview video with ffprobe: H.264 of the frames' size,
// one video frame per rendered frame, at fps.
func checkVideo(t *testing.T, ffprobe, video string, frames int, fps float64) {
	t.Helper()
	out, err := exec.Command(ffprobe, "-v", "error", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=codec_name,width,height,nb_read_frames,r_frame_rate", "-of", "json", video).Output()
	if err != nil {
		t.Errorf("ffprobe %s: %v", video, err)
		return
	}
	var p struct {
		Streams []struct {
			CodecName    string `json:"codec_name"`
			Width        int    `json:"width"`
			Height       int    `json:"height"`
			NbReadFrames string `json:"nb_read_frames"`
			FrameRate    string `json:"r_frame_rate"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(out, &p); err != nil || len(p.Streams) != 1 {
		t.Errorf("ffprobe %s said %s (%v), want one video stream", video, out, err)
		return
	}
	st := p.Streams[0]
	if st.CodecName != "h264" || st.Width != frameWidth || st.Height != frameHeight {
		t.Errorf("video %s: %s %dx%d, want h264 %dx%d", video, st.CodecName, st.Width, st.Height, frameWidth, frameHeight)
	}
	if st.NbReadFrames != strconv.Itoa(frames) {
		t.Errorf("video %s has %s frames, want %d", video, st.NbReadFrames, frames)
	}
	var num, den float64
	if _, err := fmt.Sscanf(st.FrameRate, "%g/%g", &num, &den); err != nil || den == 0 || math.Abs(num/den-fps) > 0.01 {
		t.Errorf("video %s runs at %s fps, want %v", video, st.FrameRate, fps)
	}
}
