// Package e2e runs whole render jobs through the real worker, the real
// plugins and real Blender and FFmpeg: through the fake Manager
// (internal/managertest) and through the local queue (cajon local). Its tests
// and its benchmark live in the _test files; this file makes the job they
// all run from the tasks a real Flamenco Manager handed its worker for its
// stock Simple Blender Render job (internal/flamencotrace), so that the tests
// run what the Manager sends, not our picture of it.
package e2e

import (
	"encoding/json"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/cajonfarm/cajon/internal/flamencotrace"
	"github.com/cajonfarm/cajon/internal/managertest"
	"github.com/pelletier/go-toml/v2"
)

// simpleRenderTrace is the recorded session of the stock Simple Blender
// Render job: frames 1-4 in chunks of 2 at 23.976 fps, to PNG.
const simpleRenderTrace = "03-simple-blender-render"

// Job is a job as a Manager compiles it: tasks with commands, in order, and
// dependencies between tasks by name.
type Job struct {
	Name  string
	Type  string // the Manager's job_type
	Tasks []Task
}

// Task is one task of a Job.
type Task struct {
	Name      string
	Type      string // task_type
	DependsOn []string
	Commands  []Command
}

// Command is one command of a Task, as the worker receives it.
type Command struct {
	Name           string
	Parameters     map[string]any
	TotalStepCount int
}

// SimpleBlenderRender is what varies between runs of the recorded Simple
// Blender Render job: the files and the frames. Everything else (the
// Manager's {blender} and {blenderArgs}, ffmpeg, the scene's name, PNG, the
// FFmpeg options) is as recorded.
type SimpleBlenderRender struct {
	// BlendFile is the scene to render; the recorded job's scene is "Scene".
	BlendFile string
	// RenderOutput is the folder the frames go to, as ######.png, and the
	// preview video beside them.
	RenderOutput string
	// FrameStart..FrameEnd (inclusive) are rendered in tasks of ChunkSize frames.
	FrameStart, FrameEnd, ChunkSize int
	// FPS is the video's frame rate; it goes into the task as a JSON number,
	// in "fps" and among the FFmpeg args, as the Manager sends it.
	FPS float64
}

// recordedJob is the Simple Blender Render job as the Manager handed it out.
type recordedJob struct {
	settings SimpleBlenderRender // with the recording's placeholder paths
	jobType  string
	render   assignedTask // the first render task
	video    assignedTask // the preview-video task
	tasks    []assignedTask
}

// assignedTask is the part of an AssignedTask a job is made of.
type assignedTask struct {
	Name     string `json:"name"`
	TaskType string `json:"task_type"`
	JobType  string `json:"job_type"`
	Commands []struct {
		Name           string         `json:"name"`
		Parameters     map[string]any `json:"parameters"`
		TotalStepCount int            `json:"total_step_count"`
	} `json:"commands"`
}

// loadRecordedJob reads the recorded job and the settings it was made with.
func loadRecordedJob() (recordedJob, error) {
	tr, err := flamencotrace.Get(simpleRenderTrace)
	if err != nil {
		return recordedJob{}, err
	}
	var rec recordedJob
	for _, raw := range tr.AssignedTasks() {
		var a assignedTask
		if err := json.Unmarshal(raw, &a); err != nil {
			return recordedJob{}, fmt.Errorf("%s: %w", simpleRenderTrace, err)
		}
		if len(a.Commands) != 1 {
			return recordedJob{}, fmt.Errorf("%s: task %s has %d commands, want 1", simpleRenderTrace, a.Name, len(a.Commands))
		}
		switch a.Commands[0].Name {
		case "blender-render":
			if rec.render.Name == "" {
				rec.render = a
			}
		case "frames-to-video":
			rec.video = a
		default:
			return recordedJob{}, fmt.Errorf("%s: unexpected command %s", simpleRenderTrace, a.Commands[0].Name)
		}
		rec.jobType = a.JobType
		rec.tasks = append(rec.tasks, a)
	}
	if rec.render.Name == "" || rec.video.Name == "" {
		return recordedJob{}, fmt.Errorf("%s: want render tasks and a preview-video task", simpleRenderTrace)
	}
	rp, vp := rec.render.Commands[0].Parameters, rec.video.Commands[0].Parameters
	out, ok := argAfter(rp["args"], "--render-output")
	if !ok {
		return recordedJob{}, fmt.Errorf("%s: the render task has no --render-output", simpleRenderTrace)
	}
	fps, ok := vp["fps"].(float64)
	if !ok {
		return recordedJob{}, fmt.Errorf("%s: fps %v is not a number", simpleRenderTrace, vp["fps"])
	}
	blend, _ := rp["blendfile"].(string)
	rec.settings = SimpleBlenderRender{BlendFile: blend, RenderOutput: path.Dir(out), FPS: fps, FrameStart: -1, ChunkSize: -1}
	for _, t := range rec.tasks {
		if t.Commands[0].Name != "blender-render" {
			continue
		}
		frames, err := chunkFrames(t.Name)
		if err != nil {
			return recordedJob{}, fmt.Errorf("%s: task %s: %w", simpleRenderTrace, t.Name, err)
		}
		if rec.settings.FrameStart < 0 {
			rec.settings.FrameStart, rec.settings.ChunkSize = frames[0], len(frames)
		}
		rec.settings.FrameEnd = frames[len(frames)-1]
	}
	return rec, nil
}

// RecordedSimpleBlenderRender returns the settings of the recorded job, with
// the recording's placeholder paths (@SHARED@/...): change the paths, and the
// frames if you like, then call Job.
func RecordedSimpleBlenderRender() (SimpleBlenderRender, error) {
	rec, err := loadRecordedJob()
	return rec.settings, err
}

// Job makes the job the Manager sends for these settings from the recorded
// one: each render task is the recorded first render task with this job's
// paths and its chunk of frames (task render-<chunk>, --render-frame in
// Blender's notation, total_step_count = frames in the chunk); the video
// task is the recorded preview-video task with this job's paths and fps. It
// depends on every render task, as in the Manager.
func (s SimpleBlenderRender) Job(name string) (Job, error) {
	if s.ChunkSize < 1 || s.FrameStart < 0 || s.FrameEnd < s.FrameStart {
		return Job{}, fmt.Errorf("simple blender render %q: frames %d..%d in chunks of %d: need 0 <= start <= end and a chunk size of at least 1",
			name, s.FrameStart, s.FrameEnd, s.ChunkSize)
	}
	if s.FPS <= 0 {
		return Job{}, fmt.Errorf("simple blender render %q: fps %v must be positive", name, s.FPS)
	}
	rec, err := loadRecordedJob()
	if err != nil {
		return Job{}, err
	}
	// The video's path starts with the render folder's: it goes first, as
	// a Replacer tries its pairs in order.
	paths := strings.NewReplacer(
		rec.settings.VideoFile(), s.VideoFile(),
		rec.settings.BlendFile, s.BlendFile,
		rec.settings.RenderOutput, s.RenderOutput)
	job := Job{Name: name, Type: rec.jobType}
	var renders []string
	for a := s.FrameStart; a <= s.FrameEnd; a += s.ChunkSize {
		b := min(a+s.ChunkSize-1, s.FrameEnd)
		chunk := chunkName(a, b)
		params := templated(rec.render.Commands[0].Parameters, paths, 0, 0)
		args := params["args"].([]any)
		i := slices.Index(args, any("--render-frame"))
		if i < 0 || i+1 >= len(args) {
			return Job{}, fmt.Errorf("%s: the render task has no --render-frame", simpleRenderTrace)
		}
		// The Manager writes a frame range in Blender's notation, a..b.
		args[i+1] = strings.ReplaceAll(chunk, "-", "..")
		t := Task{
			Name: "render-" + chunk,
			Type: rec.render.TaskType,
			Commands: []Command{{
				Name: rec.render.Commands[0].Name, Parameters: params, TotalStepCount: b - a + 1,
			}},
		}
		renders = append(renders, t.Name)
		job.Tasks = append(job.Tasks, t)
	}
	vc := rec.video.Commands[0]
	job.Tasks = append(job.Tasks, Task{
		Name: rec.video.Name, Type: rec.video.TaskType, DependsOn: renders,
		Commands: []Command{{
			Name: vc.Name, Parameters: templated(vc.Parameters, paths, rec.settings.FPS, s.FPS), TotalStepCount: vc.TotalStepCount,
		}},
	})
	return job, nil
}

// templated copies recorded parameters with paths replaced in every string
// and every number equal to fromFPS (the fps, also among the args) made toFPS.
func templated(params map[string]any, paths *strings.Replacer, fromFPS, toFPS float64) map[string]any {
	var walk func(v any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case string:
			return paths.Replace(x)
		case float64:
			if fromFPS != 0 && x == fromFPS {
				return toFPS
			}
			return x
		case []any:
			out := make([]any, len(x))
			for i, e := range x {
				out[i] = walk(e)
			}
			return out
		case map[string]any:
			out := make(map[string]any, len(x))
			for k, e := range x {
				out[k] = walk(e)
			}
			return out
		}
		return v
	}
	return walk(params).(map[string]any)
}

// chunkName writes the frames a..b as the Manager names a chunk: "7", "7,8",
// or "7-9" for three frames and more.
func chunkName(a, b int) string {
	switch b - a {
	case 0:
		return strconv.Itoa(a)
	case 1:
		return fmt.Sprintf("%d,%d", a, b)
	}
	return fmt.Sprintf("%d-%d", a, b)
}

// chunkFrames reads the frames of a render task's name, the inverse of
// chunkName.
func chunkFrames(task string) ([]int, error) {
	chunk, ok := strings.CutPrefix(task, "render-")
	if !ok {
		return nil, fmt.Errorf("not a render task name")
	}
	var frames []int
	for _, part := range strings.Split(chunk, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, err
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				return nil, err
			}
		}
		for f := a; f <= b; f++ {
			frames = append(frames, f)
		}
	}
	return frames, nil
}

// argAfter is the string after flag in a JSON list of arguments.
func argAfter(list any, flag string) (string, bool) {
	args, _ := list.([]any)
	i := slices.Index(args, any(flag))
	if i < 0 || i+1 >= len(args) {
		return "", false
	}
	s, ok := args[i+1].(string)
	return s, ok
}

// VideoFile is where the preview video goes, as the Manager names it:
// <render output>/<blend file's stem>-<start>-<end>.mp4.
func (s SimpleBlenderRender) VideoFile() string {
	stem := strings.TrimSuffix(filepath.Base(s.BlendFile), filepath.Ext(s.BlendFile))
	return filepath.Join(s.RenderOutput, fmt.Sprintf("%s-%d-%d.mp4", stem, s.FrameStart, s.FrameEnd))
}

// FramePath is the file Blender writes for frame n (the recorded job renders
// PNG to ######).
func (s SimpleBlenderRender) FramePath(n int) string {
	return filepath.Join(s.RenderOutput, fmt.Sprintf("%06d.png", n))
}

// ManagerJob is the job for managertest.Manager.AddJob.
func (j Job) ManagerJob() managertest.Job {
	mj := managertest.Job{Name: j.Name, Type: j.Type}
	for _, t := range j.Tasks {
		mt := managertest.Task{Name: t.Name, Type: t.Type, DependsOn: t.DependsOn}
		for _, c := range t.Commands {
			mt.Commands = append(mt.Commands, managertest.Command{Name: c.Name, Parameters: c.Parameters, TotalStepCount: c.TotalStepCount})
		}
		mj.Tasks = append(mj.Tasks, mt)
	}
	return mj
}

// tomlJob, tomlTask and tomlCommand are the shape of a job file of the local
// queue (docs/LOCAL.md).
type tomlJob struct {
	Name  string     `toml:"name"`
	Tasks []tomlTask `toml:"tasks"`
}

type tomlTask struct {
	Name      string        `toml:"name"`
	Type      string        `toml:"type"`
	DependsOn []string      `toml:"depends_on,omitempty"`
	Commands  []tomlCommand `toml:"commands"`
}

type tomlCommand struct {
	Name           string         `toml:"name"`
	TotalStepCount int            `toml:"total_step_count,omitempty"`
	Parameters     map[string]any `toml:"parameters"`
}

// TOML is the job as a job file for `cajon local submit`.
func (j Job) TOML() ([]byte, error) {
	f := tomlJob{Name: j.Name}
	for _, t := range j.Tasks {
		ft := tomlTask{Name: t.Name, Type: t.Type, DependsOn: t.DependsOn}
		for _, c := range t.Commands {
			ft.Commands = append(ft.Commands, tomlCommand{Name: c.Name, TotalStepCount: c.TotalStepCount, Parameters: c.Parameters})
		}
		f.Tasks = append(f.Tasks, ft)
	}
	out, err := toml.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("job %q as TOML: %w", j.Name, err)
	}
	return out, nil
}
