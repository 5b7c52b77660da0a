package main

import (
	"cmp"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/sdk"
	"github.com/cajonfarm/cajon/sdk/sdktest"
)

// needBlender returns the Blender to test with, or skips the test.
func needBlender(t testing.TB) string {
	t.Helper()
	exe, err := exec.LookPath("blender")
	if err != nil {
		t.Skip("blender is not installed (not in PATH): skipping the tests that render; CI installs it from the Debian package")
	}
	return exe
}

// testPlugin is the plugin with warm sessions of its own, stopped when the
// test ends.
func testPlugin(t testing.TB) sdk.Plugin { return plugin(testSessions(t)) }

// testSessions are warm sessions stopped when the test ends.
func testSessions(t testing.TB) *sessions {
	warm := newSessions()
	t.Cleanup(warm.Close)
	return warm
}

// sceneScript makes the tiny test scene: the factory cube, Cycles at one
// sample without denoising, 64x36 pixels, PNG, and saves it to argv[-1].
const sceneScript = `
import bpy, sys
s = bpy.context.scene
s.render.engine = 'CYCLES'
s.cycles.device = 'CPU'
s.cycles.samples = 1
s.cycles.use_denoising = False
s.render.resolution_x = 64
s.render.resolution_y = 36
s.render.resolution_percentage = 100
s.render.image_settings.file_format = 'PNG'
bpy.ops.wm.save_as_mainfile(filepath=sys.argv[-1])
`

// makeScene saves the test scene in dir and returns its path.
func makeScene(t testing.TB, blender, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "scene.blend")
	out, err := exec.Command(blender, "-b", "--factory-startup", "--python-expr", sceneScript, "--", path).CombinedOutput()
	if err != nil {
		t.Fatalf("making the test scene: %v\n%s", err, out)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("Blender did not save the test scene: %v\n%s", err, out)
	}
	return path
}

// list turns strings into the []any a task's JSON parameters hold.
func list(s ...string) []any {
	out := make([]any, len(s))
	for i, e := range s {
		out[i] = e
	}
	return out
}

// outputsByType groups the paths of a run's outputs by MIME type, in order.
func outputsByType(res *sdktest.Result) map[string][]string {
	m := map[string][]string{}
	for _, o := range res.Outputs {
		m[o.MIMEType] = append(m[o.MIMEType], o.Path)
	}
	return m
}

// lastActivity is the newest activity text sent ("" leaves it unchanged).
func lastActivity(ps []sdktest.Progress) string {
	last := ""
	for _, p := range ps {
		if p.Activity != "" {
			last = p.Activity
		}
	}
	return last
}

// isolateTemp points the system's temporary folder (where previews and
// Blender's crash reports go) at a folder of the test's own.
func isolateTemp(t testing.TB) string {
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	t.Setenv("TEMP", dir)
	t.Setenv("TMP", dir)
	return dir
}

func TestRenderThreeFrames(t *testing.T) {
	blender := needBlender(t)
	tmp := isolateTemp(t)
	dir := t.TempDir()
	scene := makeScene(t, blender, dir)
	frames := filepath.Join(dir, "frames")

	// The parameters as the Simple Blender Render job type sends them.
	res := sdktest.Run(t, testPlugin(t), "blender-render", map[string]any{
		"exe":        "blender",
		"exeArgs":    "-b -y",
		"argsBefore": list(),
		"blendfile":  scene,
		"args": list("--render-output", filepath.Join(frames, "######"), "--render-format", "PNG",
			"--render-frame", "1..3"),
	})
	if res.Status != sdktest.Completed {
		t.Fatalf("render %s: %s\n%s", res.Status, res.Message, strings.Join(res.Lines, "\n"))
	}

	var maxDone int64
	for _, p := range res.Progress {
		maxDone = max(maxDone, p.StepsDone)
		if p.HasSteps && p.StepsTotal != 3 {
			t.Errorf("progress %+v: total is not the 3 frames of --render-frame 1..3", p)
		}
	}
	if maxDone != 3 {
		t.Errorf("steps done reached %d, want 3; progress: %+v", maxDone, res.Progress)
	}
	// Only the latest progress of each batch is sent, so intermediate
	// activities (samples) may be skipped; the last one is about frame 3.
	if last := lastActivity(res.Progress); !strings.HasPrefix(last, "frame 3") {
		t.Errorf("last activity %q, want it about frame 3", last)
	}

	byType := outputsByType(res)
	pngs, previews := byType["image/png"], byType["image/jpeg"]
	if len(byType) > 2 {
		t.Errorf("outputs of other types than PNG frames and JPEG previews: %+v", res.Outputs)
	}
	want := []string{"000001.png", "000002.png", "000003.png"}
	if len(pngs) != len(want) {
		t.Fatalf("outputs %+v, want the 3 frames", res.Outputs)
	}
	for i, p := range pngs {
		if p != filepath.Join(frames, want[i]) {
			t.Errorf("output %d is %s, want %s", i, p, filepath.Join(frames, want[i]))
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := png.DecodeConfig(f)
		f.Close()
		if err != nil || cfg.Width != 64 || cfg.Height != 36 {
			t.Errorf("frame %s: %dx%d, %v; want a 64x36 PNG", p, cfg.Width, cfg.Height, err)
		}
	}

	// Previews: newest frame first, so at least the last frame has one.
	if len(previews) == 0 || !strings.HasSuffix(previews[len(previews)-1], "-000003.jpg") {
		t.Fatalf("previews %q: want one of the last frame", previews)
	}
	for _, p := range previews {
		if !strings.HasPrefix(p, filepath.Join(tmp, "cajon-preview")+string(filepath.Separator)) {
			t.Errorf("preview %s is not under <temp>/cajon-preview/", p)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := jpeg.DecodeConfig(f)
		f.Close()
		if err != nil || cfg.Width != 64 || cfg.Height != 36 {
			t.Errorf("preview %s: %dx%d, %v; want a 64x36 JPEG", p, cfg.Width, cfg.Height, err)
		}
	}
	if !strings.HasPrefix(res.Lines[1], "cajon-plugin-blender: running ") || !strings.Contains(res.Lines[1], "--render-frame 1..3") {
		t.Errorf("the second log line %q does not show the command line (the first says warm or cold)", res.Lines[1])
	}
	t.Logf("log:\n%s", strings.Join(res.Lines, "\n"))
}

func TestRenderFailures(t *testing.T) {
	blender := needBlender(t)
	isolateTemp(t)
	dir := t.TempDir()
	scene := makeScene(t, blender, dir)
	out := filepath.Join(dir, "out", "####")
	libScene, lib := makeLinkedScene(t, blender, dir, scene)
	if err := os.WriteFile(filepath.Join(dir, "a-file"), []byte("not a folder"), 0o644); err != nil {
		t.Fatal(err)
	}
	quiet := quietBlender(t, blender, dir)
	// Frames of an earlier run: not this render's.
	if err := os.MkdirAll(filepath.Join(dir, "old"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"f-01.png", "f-02.png"} {
		path := filepath.Join(dir, "old", f)
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		hourAgo := time.Now().Add(-time.Hour)
		if err := os.Chtimes(path, hourAgo, hourAgo); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name     string
		params   map[string]any
		config   map[string]any
		status   sdktest.Status
		want     []string // in the message
		warnings []string // in the warnings, in order
		logged   string   // a line of the log has it
	}{
		{name: "blend file missing",
			params: map[string]any{"exe": "blender", "exeArgs": "-b", "blendfile": filepath.Join(dir, "nope.blend"), "args": list("-f", "1")},
			status: sdktest.Failed, want: []string{"blend file " + filepath.Join(dir, "nope.blend") + " does not exist"}},
		{name: "blender not found",
			params: map[string]any{"exe": filepath.Join(dir, "no-blender"), "blendfile": scene},
			status: sdktest.Failed, want: []string{filepath.Join(dir, "no-blender") + " does not exist", "exe parameter"}},
		{name: "configured blender not found",
			params: map[string]any{"exe": "blender", "blendfile": scene},
			config: map[string]any{"exe": "/opt/nowhere/blender"},
			status: sdktest.Failed, want: []string{"[plugins.blender] exe", "/opt/nowhere/blender does not exist"}},
		{name: "config typo",
			params: map[string]any{"blendfile": scene},
			config: map[string]any{"preview": false},
			status: sdktest.Failed, want: []string{`unknown key preview`}},
		{name: "exeArgs unterminated quote",
			params: map[string]any{"exeArgs": "-b 'oops", "blendfile": scene},
			status: sdktest.Failed, want: []string{"parameter exeArgs", "unterminated single quote"}},
		{name: "python error, frame saved: completes with a warning",
			params: map[string]any{"exeArgs": "-b", "blendfile": scene, "args": list("--python-expr", "raise RuntimeError('boom')", "-o", out, "-f", "1")},
			status: sdktest.Completed, warnings: []string{"Blender reported 1 error, but every frame asked for was saved: Error: Python: Traceback (most recent call last): ... RuntimeError: boom"}},
		{name: "python error, strict",
			params: map[string]any{"exeArgs": "-b", "blendfile": scene, "args": list("--python-expr", "raise RuntimeError('boom')", "-o", out, "-f", "1")},
			config: map[string]any{"fail_on_error_lines": true},
			status: sdktest.Failed, want: []string{"Blender reported errors", "RuntimeError: boom"}},
		// A Cycles job that picks its GPU in a --python-expr, on a node
		// without that GPU (or that API): Blender raises, renders on the
		// CPU and saves the frame, and the stock worker completes the task.
		{name: "GPU device script on a node without that GPU",
			params: map[string]any{"exeArgs": "-b -y", "blendfile": scene, "args": list(
				"--python-expr", "import bpy\nprefs = bpy.context.preferences.addons['cycles'].preferences\nprefs.compute_device_type = 'CAJON_NO_SUCH_GPU_API'\n",
				"--python-expr", "import bpy; bpy.context.scene.cycles.device = 'GPU'",
				"--render-output", out, "--render-format", "PNG", "--render-frame", "1..2")},
			status: sdktest.Completed, warnings: []string{"Blender reported 1 error, but every frame asked for was saved", "CAJON_NO_SUCH_GPU_API"}},
		{name: "error and no frame saved fails",
			params: map[string]any{"exeArgs": "-b", "blendfile": scene, "args": list("-o", "//a-file/f-####", "-f", "1")},
			status: sdktest.Failed, want: []string{"without rendering any of the 1 frames", "cannot save"}},
		{name: "missing library, frame saved: completes with a warning",
			params: map[string]any{"exeArgs": "-b", "blendfile": libScene, "args": list("-o", out, "-f", "1")},
			status: sdktest.Completed, warnings: []string{"Blender could not open files the scene needs (3 messages), but every frame asked for was saved: ", "Unable to open '" + lib + "'"}},
		{name: "missing library, strict",
			params: map[string]any{"exeArgs": "-b", "blendfile": libScene, "args": list("-o", out, "-f", "1")},
			config: map[string]any{"fail_on_missing_files": true},
			status: sdktest.Failed, want: []string{"could not open files", "Unable to open '" + lib + "'"}},
		{name: "no Saved lines, frames on disk",
			params: map[string]any{"exe": quiet, "exeArgs": "-b", "blendfile": scene, "args": list("-o", filepath.Join(dir, "quiet", "f-##"), "-f", "1..2")},
			status: sdktest.Completed, logged: "Blender's output showed 0 of the 2 frames asked for as saved; 2 of them are on disk"},
		{name: "no Saved lines, frames on disk but old",
			params: map[string]any{"exe": quiet, "exeArgs": "-b", "blendfile": scene, "args": list("--python-expr", "import sys; sys.exit(0)", "-o", filepath.Join(dir, "old", "f-##"), "-f", "1..2")},
			status: sdktest.Failed, want: []string{"without rendering any of the 2 frames"}},
		{name: "non-zero exit",
			params: map[string]any{"exeArgs": "-b", "blendfile": scene, "args": list("--python-exit-code", "7", "--python-expr", "raise SystemExit(3)")},
			status: sdktest.Failed, want: []string{"Blender exited with status"}},
		{name: "crash",
			params: map[string]any{"exeArgs": "-b", "blendfile": scene, "args": list("--python-expr", "import ctypes; ctypes.string_at(0)")},
			status: sdktest.Failed, want: []string{"Blender was killed by a signal", "crash report"}},
		{name: "nothing rendered",
			// A folder of its own: another case's frame 1, seconds old, would
			// count as written by this render (frameClockSlack).
			params: map[string]any{"exeArgs": "-b", "blendfile": scene, "args": list("--python-expr", "import sys; sys.exit(0)", "-o", filepath.Join(dir, "nothing", "####"), "-f", "1")},
			status: sdktest.Failed, want: []string{"without rendering any of the 1 frames"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := sdktest.Run(t, testPlugin(t), "blender-render", tt.params, sdktest.Options{Config: tt.config})
			if res.Status != tt.status {
				t.Fatalf("status %s (%s), want %s\n%s", res.Status, res.Message, tt.status, strings.Join(res.Lines, "\n"))
			}
			t.Logf("message: %s", res.Message)
			for _, w := range tt.want {
				if !strings.Contains(res.Message, w) {
					t.Errorf("message %q does not say %q", res.Message, w)
				}
			}
			warned := strings.Join(res.Warnings, "\n")
			if len(tt.warnings) == 0 && len(res.Warnings) > 0 {
				t.Errorf("warnings %q, want none", res.Warnings)
			}
			for _, w := range tt.warnings {
				if !strings.Contains(warned, w) {
					t.Errorf("warnings %q do not say %q", res.Warnings, w)
				}
				if len(res.Warnings) > 0 && !slices.Contains(res.Lines, "WARNING: "+res.Warnings[0]) {
					t.Errorf("the task log lacks the warning %q:\n%s", res.Warnings[0], strings.Join(res.Lines, "\n"))
				}
			}
			if tt.logged != "" && !slices.ContainsFunc(res.Lines, func(l string) bool { return strings.Contains(l, tt.logged) }) {
				t.Errorf("no line of the log says %q:\n%s", tt.logged, strings.Join(res.Lines, "\n"))
			}
		})
	}
}

// quietBlender writes a wrapper that runs blender without its Saved: and
// Time: lines, as a Blender with another log level or a script saving its
// own frames shows a render, and returns its path.
func quietBlender(t *testing.T, blender, dir string) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the quiet Blender wrapper is a shell script")
	}
	path := filepath.Join(dir, "quiet-blender")
	script := "#!/bin/sh\n" + shellQuote(blender) + " \"$@\" 2>&1 | grep --line-buffered -v -e 'Saved:' -e 'Time:'\nexit 0\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// makeLinkedScene saves in dir a copy of scene that links an object from a
// library, then deletes the library. It returns the scene and where the
// library was.
func makeLinkedScene(t testing.TB, blender, dir, scene string) (string, string) {
	t.Helper()
	libScene := filepath.Join(dir, "linked.blend")
	lib := filepath.Join(dir, "lib.blend")
	link := `
import bpy, sys
lib, out = sys.argv[-2], sys.argv[-1]
bpy.ops.wm.read_factory_settings(use_empty=True)
bpy.ops.mesh.primitive_cube_add()
bpy.context.object.name = "LibCube"
bpy.ops.wm.save_as_mainfile(filepath=lib)
bpy.ops.wm.open_mainfile(filepath=sys.argv[sys.argv.index("-b") + 1])
with bpy.data.libraries.load(lib, link=True) as (src, dst):
    dst.objects = ["LibCube"]
for o in dst.objects:
    bpy.context.scene.collection.objects.link(o)
bpy.ops.wm.save_as_mainfile(filepath=out)
`
	if b, err := exec.Command(blender, "-b", scene, "--python-expr", link, "--", lib, libScene).CombinedOutput(); err != nil {
		t.Fatalf("making the linked scene: %v\n%s", err, b)
	}
	if err := os.Remove(lib); err != nil {
		t.Fatal(err)
	}
	return libScene, lib
}

func TestRenderAbort(t *testing.T) {
	blender := needBlender(t)
	isolateTemp(t)
	dir := t.TempDir()
	scene := makeScene(t, blender, dir)
	res := sdktest.Run(t, testPlugin(t), "blender-render", map[string]any{
		"exeArgs": "-b", "blendfile": scene,
		"args": list("--python-expr", "import time; print('sleeping', flush=True); time.sleep(600)", "-f", "1"),
	}, sdktest.Options{CancelAfter: 2 * time.Second, Grace: time.Second})
	if res.Status != sdktest.Canceled {
		t.Fatalf("status %s (%s), want canceled", res.Status, res.Message)
	}
}

func TestDescribe(t *testing.T) {
	d := sdktest.Describe(t, testPlugin(t))
	if d.GetName() != "blender" || len(d.GetCommands()) != 1 {
		t.Fatalf("Describe = %v", d)
	}
	c := d.GetCommands()[0]
	if c.GetName() != "blender-render" || c.GetTaskType() != "blender" {
		t.Errorf("command %s of task type %s", c.GetName(), c.GetTaskType())
	}
	var names []string
	for _, p := range c.GetParams() {
		names = append(names, p.GetName())
	}
	if got := strings.Join(names, ","); got != "exe,exeArgs,argsBefore,blendfile,args" {
		t.Errorf("parameters %s, want Flamenco's exe,exeArgs,argsBefore,blendfile,args", got)
	}
}

func TestRenderEXRPreviews(t *testing.T) {
	blender := needBlender(t)
	needFFmpeg(t)
	dir := t.TempDir()
	scene := makeScene(t, blender, dir)
	tests := []struct {
		name         string
		format       string // --render-format; "" = OPEN_EXR
		config       map[string]any
		wantPreviews bool
		wantLog      string
	}{
		{name: "with ffmpeg", wantPreviews: true},
		// FFmpeg reads a multilayer EXR only when told the layer: the
		// preview shows the combined pass.
		{name: "multilayer", format: "OPEN_EXR_MULTILAYER", wantPreviews: true},
		{name: "ffmpeg missing", config: map[string]any{"preview_ffmpeg": filepath.Join(dir, "no-ffmpeg")},
			wantLog: "no previews of EXR frames: ffmpeg \"" + filepath.Join(dir, "no-ffmpeg") + "\" was not found"},
		{name: "ffmpeg turned off", config: map[string]any{"preview_ffmpeg": ""},
			wantLog: "no previews of EXR frames: [plugins.blender] preview_ffmpeg is empty"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolateTemp(t)
			frames := filepath.Join(dir, "frames"+strconv.Itoa(i))
			res := sdktest.Run(t, testPlugin(t), "blender-render", map[string]any{
				"exeArgs": "-b -y", "blendfile": scene,
				"args": list("--render-output", filepath.Join(frames, "######"), "--render-format", cmp.Or(tt.format, "OPEN_EXR"), "--render-frame", "1..2"),
			}, sdktest.Options{Config: tt.config})
			if log := strings.Join(res.Lines, "\n"); strings.Contains(log, "no preview of") {
				t.Errorf("a preview could not be made:\n%s", log)
			}
			if res.Status != sdktest.Completed {
				t.Fatalf("render %s: %s\n%s", res.Status, res.Message, strings.Join(res.Lines, "\n"))
			}
			byType := outputsByType(res)
			exrs, previews := byType["image/x-exr"], byType["image/jpeg"]
			if len(exrs) != 2 {
				t.Errorf("EXR outputs %q, want the 2 frames", exrs)
			}
			if !tt.wantPreviews {
				if len(previews) > 0 {
					t.Errorf("previews %q without an ffmpeg", previews)
				}
				if log := strings.Join(res.Lines, "\n"); strings.Count(log, "no previews of EXR frames") != 1 || !strings.Contains(log, tt.wantLog) {
					t.Errorf("the log should say once %q:\n%s", tt.wantLog, log)
				}
				return
			}
			if len(previews) == 0 || !strings.HasSuffix(previews[len(previews)-1], "-000002.jpg") {
				t.Fatalf("previews %q: want one of the last frame", previews)
			}
			f, err := os.Open(previews[len(previews)-1])
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			cfg, err := jpeg.DecodeConfig(f)
			if err != nil || cfg.Width != 64 || cfg.Height != 36 {
				t.Errorf("preview %dx%d, %v; want a 64x36 JPEG", cfg.Width, cfg.Height, err)
			}
		})
	}
}
