// Package e2e runs whole render jobs through the real worker, the real
// plugins and real Blender and FFmpeg: through the fake Manager
// (internal/managertest) and through the local queue (cajon local). Its tests
// and its benchmark live in the _test files; this file describes the jobs,
// shaped exactly like the ones Flamenco's built-in job types send, so that
// the tests, the benchmark and bench/ all run the same job.
package e2e

import (
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/cajonfarm/cajon/internal/managertest"
	"github.com/pelletier/go-toml/v2"
)

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

// SimpleBlenderRender holds the settings of Flamenco's "Simple Blender
// Render" job type, with the Manager's variables ({blender}, {blenderArgs},
// {ffmpeg}) already expanded as the worker receives them.
type SimpleBlenderRender struct {
	// Blender and BlenderArgs are the {blender} and {blenderArgs} variables
	// ("blender" and "-b -y" on a default Manager).
	Blender, BlenderArgs string
	// FFmpeg is the ffmpeg task's exe ("ffmpeg").
	FFmpeg string
	// BlendFile is the scene to render.
	BlendFile string
	// Scene is the scene's name; "" leaves --scene out.
	Scene string
	// RenderOutput is the folder the frames go to, as ######.<ext>, and the
	// preview video beside them.
	RenderOutput string
	// Format is Blender's --render-format, e.g. "PNG"; Extension the frames'
	// file extension with its dot, e.g. ".png".
	Format, Extension string
	// FrameStart..FrameEnd (inclusive) are rendered in tasks of ChunkSize frames.
	FrameStart, FrameEnd, ChunkSize int
	// FPS is the video's frame rate.
	FPS float64
}

// Job compiles the settings into the job the Manager sends: one task of
// type blender per chunk of frames (render-A-B, command blender-render,
// total_step_count = frames in the chunk), then one task of type ffmpeg
// (preview-video, command frames-to-video) that depends on every render task.
func (s SimpleBlenderRender) Job(name string) (Job, error) {
	if s.ChunkSize < 1 || s.FrameEnd < s.FrameStart {
		return Job{}, fmt.Errorf("simple blender render %q: frames %d..%d in chunks of %d: need start <= end and a chunk size of at least 1",
			name, s.FrameStart, s.FrameEnd, s.ChunkSize)
	}
	if s.FPS <= 0 {
		return Job{}, fmt.Errorf("simple blender render %q: fps %v must be positive", name, s.FPS)
	}
	job := Job{Name: name, Type: "simple-blender-render"}
	var renders []string
	for a := s.FrameStart; a <= s.FrameEnd; a += s.ChunkSize {
		b := min(a+s.ChunkSize-1, s.FrameEnd)
		var args []any
		if s.Scene != "" {
			args = append(args, "--scene", s.Scene)
		}
		args = append(args,
			"--render-output", filepath.Join(s.RenderOutput, "######"),
			"--render-format", s.Format,
			"--render-frame", fmt.Sprintf("%d..%d", a, b))
		t := Task{
			Name: fmt.Sprintf("render-%d-%d", a, b),
			Type: "blender",
			Commands: []Command{{
				Name: "blender-render",
				Parameters: map[string]any{
					"exe":        s.Blender,
					"exeArgs":    s.BlenderArgs,
					"argsBefore": []any{},
					"blendfile":  s.BlendFile,
					"args":       args,
				},
				TotalStepCount: b - a + 1,
			}},
		}
		renders = append(renders, t.Name)
		job.Tasks = append(job.Tasks, t)
	}
	fps := strconv.FormatFloat(s.FPS, 'f', -1, 64)
	job.Tasks = append(job.Tasks, Task{
		Name:      "preview-video",
		Type:      "ffmpeg",
		DependsOn: renders,
		Commands: []Command{{
			Name: "frames-to-video",
			Parameters: map[string]any{
				"exe":        s.FFmpeg,
				"exeArgs":    "",
				"fps":        s.FPS,
				"inputGlob":  filepath.Join(s.RenderOutput, "*"+s.Extension),
				"outputFile": s.VideoFile(),
				"argsBefore": []any{},
				"args": []any{"-c:v", "h264", "-crf", "20", "-g", "18",
					"-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-pix_fmt", "yuv420p", "-r", fps, "-y"},
			},
		}},
	})
	return job, nil
}

// VideoFile is where the preview video goes: <render output>/<its name>.mp4.
func (s SimpleBlenderRender) VideoFile() string {
	return filepath.Join(s.RenderOutput, filepath.Base(s.RenderOutput)+".mp4")
}

// FramePath is the file Blender writes for frame n.
func (s SimpleBlenderRender) FramePath(n int) string {
	return filepath.Join(s.RenderOutput, fmt.Sprintf("%06d%s", n, s.Extension))
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
