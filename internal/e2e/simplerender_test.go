package e2e

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/internal/flamencotrace"
)

// TestJobWithTheRecordedSettingsIsTheRecording: the template gives back,
// task for task, what the Manager sent for the settings it was recorded with.
func TestJobWithTheRecordedSettingsIsTheRecording(t *testing.T) {
	s, err := RecordedSimpleBlenderRender()
	if err != nil {
		t.Fatal(err)
	}
	if want := (SimpleBlenderRender{BlendFile: "@SHARED@/tiny.blend", RenderOutput: "@SHARED@/render/trace", FrameStart: 1, FrameEnd: 4, ChunkSize: 2, FPS: 23.976}); s != want {
		t.Fatalf("recorded settings %+v, want %+v", s, want)
	}
	job, err := s.Job("recorded")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := flamencotrace.Get(simpleRenderTrace)
	if err != nil {
		t.Fatal(err)
	}
	recorded := tr.AssignedTasks()
	if len(job.Tasks) != len(recorded) || job.Type != "simple-blender-render" {
		t.Fatalf("%d tasks of type %s, want the %d recorded", len(job.Tasks), job.Type, len(recorded))
	}
	for i, raw := range recorded {
		var a assignedTask
		if err := json.Unmarshal(raw, &a); err != nil {
			t.Fatal(err)
		}
		got := job.Tasks[i]
		if got.Name != a.Name || got.Type != a.TaskType || len(got.Commands) != len(a.Commands) {
			t.Fatalf("task %d: %s (%s, %d commands), recorded %s (%s, %d)", i, got.Name, got.Type, len(got.Commands), a.Name, a.TaskType, len(a.Commands))
		}
		for j, c := range a.Commands {
			g := got.Commands[j]
			if g.Name != c.Name || g.TotalStepCount != c.TotalStepCount || !reflect.DeepEqual(g.Parameters, c.Parameters) {
				t.Errorf("task %s command %d:\n  %s %d %v\nrecorded\n  %s %d %v", a.Name, j, g.Name, g.TotalStepCount, g.Parameters, c.Name, c.TotalStepCount, c.Parameters)
			}
		}
	}
}

// TestJobTemplate: other paths, frames, chunks and fps go where the Manager
// puts them, and the fps stays a JSON number.
func TestJobTemplate(t *testing.T) {
	s := SimpleBlenderRender{BlendFile: "/b/scene.blend", RenderOutput: "/r/shot", FrameStart: 1, FrameEnd: 10, ChunkSize: 3, FPS: 24}
	job, err := s.Job("shot")
	if err != nil {
		t.Fatal(err)
	}
	var names, frames []string
	var steps []int
	for _, tk := range job.Tasks {
		names = append(names, tk.Name)
		c := tk.Commands[0]
		if c.Name == "blender-render" {
			f, _ := argAfter(c.Parameters["args"], "--render-frame")
			out, _ := argAfter(c.Parameters["args"], "--render-output")
			frames = append(frames, f)
			steps = append(steps, c.TotalStepCount)
			if c.Parameters["blendfile"] != "/b/scene.blend" || out != "/r/shot/######" {
				t.Errorf("task %s: blendfile %v, output %s", tk.Name, c.Parameters["blendfile"], out)
			}
		}
		raw, _ := json.Marshal(c.Parameters)
		if strings.Contains(string(raw), "@") {
			t.Errorf("task %s keeps a placeholder: %s", tk.Name, raw)
		}
	}
	if want := []string{"render-1-3", "render-4-6", "render-7-9", "render-10", "preview-video"}; !slices.Equal(names, want) {
		t.Errorf("tasks %q, want %q", names, want)
	}
	if want := []string{"1..3", "4..6", "7..9", "10"}; !slices.Equal(frames, want) {
		t.Errorf("--render-frame %q, want %q", frames, want)
	}
	if want := []int{3, 3, 3, 1}; !slices.Equal(steps, want) {
		t.Errorf("total_step_count %v, want %v", steps, want)
	}
	video := job.Tasks[len(job.Tasks)-1]
	p := video.Commands[0].Parameters
	args := p["args"].([]any)
	if r := slices.Index(args, any("-r")); r < 0 || args[r+1] != 24.0 || p["fps"] != 24.0 {
		t.Errorf("fps %#v, args %#v: want the number 24 in both", p["fps"], args)
	}
	if p["outputFile"] != "/r/shot/scene-1-10.mp4" || p["inputGlob"] != "/r/shot/*.png" || s.VideoFile() != "/r/shot/scene-1-10.mp4" {
		t.Errorf("video task %v", p)
	}
	if !slices.Equal(video.DependsOn, names[:4]) {
		t.Errorf("the video depends on %q, want every render task", video.DependsOn)
	}
	if _, err := (SimpleBlenderRender{FrameStart: 1, FrameEnd: 2, ChunkSize: 0, FPS: 24}).Job("bad"); err == nil {
		t.Error("chunk size 0 accepted")
	}
}
