package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/sdk"
	"github.com/cajonfarm/cajon/sdk/sdktest"
)

// warmSceneScript makes the scene of the warm tests: the factory cube
// turning over frames 1..10, Cycles at 2 samples with a fixed seed and no
// denoising (noisy, so that a different render shows), 64x36, saved in the
// format given as argv[-2]; and a second scene "Other" (48x27) that shares
// the objects. Registered text "warm_hook.py" runs on load (with -y): it
// does what the environment variable CAJON_TEST_HOOK says at render time
// ("sleep" sleeps at frame 2, "crash" segfaults at frame 2, "hang" sleeps
// once a render is complete, after its last frame) and, with "handler",
// adds a persistent handler each time the file loads.
const warmSceneScript = `
import bpy, sys
fmt, path = sys.argv[-2], sys.argv[-1]
s = bpy.context.scene
s.render.engine = 'CYCLES'
s.cycles.device = 'CPU'
s.cycles.samples = 2
s.cycles.use_denoising = False
s.cycles.seed = 7
s.cycles.use_animated_seed = False
s.render.resolution_x = 64
s.render.resolution_y = 36
s.render.resolution_percentage = 100
s.render.image_settings.file_format = fmt
s.frame_start, s.frame_end = 1, 10
cube = bpy.data.objects['Cube']
cube.rotation_euler = (0, 0, 0)
cube.keyframe_insert('rotation_euler', frame=1)
cube.rotation_euler = (0.5, 0.3, 3.0)
cube.keyframe_insert('rotation_euler', frame=10)
bpy.ops.scene.new(type='LINK_COPY')
other = bpy.context.window.scene
other.name = 'Other'
other.render.resolution_x = 48
other.render.resolution_y = 27
bpy.context.window.scene = s
hook = bpy.data.texts.new('warm_hook.py')
hook.use_module = True
hook.write('''
import bpy, os
from bpy.app.handlers import persistent
what = os.environ.get("CAJON_TEST_HOOK", "")
def pre(scene, *args):
    if scene.frame_current == 2 and what == "sleep":
        import time
        print("hook: sleeping", flush=True)
        time.sleep(600)
    if scene.frame_current == 2 and what == "crash":
        import ctypes
        ctypes.string_at(0)
bpy.app.handlers.render_pre.append(pre)
if what == "hang":
    def hang(*args):
        import time
        print("hook: hanging after the render", flush=True)
        time.sleep(600)
    bpy.app.handlers.render_complete.append(hang)
if what == "handler":
    @persistent
    def stays(*args):
        pass
    bpy.app.handlers.load_post.append(stays)
''')
bpy.ops.wm.save_as_mainfile(filepath=path)
`

// makeWarmScene saves the warm tests' scene in dir, in format (a
// file_format: PNG, OPEN_EXR, JPEG, ...), and returns its path.
func makeWarmScene(t testing.TB, blender, dir, format string) string {
	t.Helper()
	path := filepath.Join(dir, "warm-"+strings.ToLower(format)+".blend")
	out, err := exec.Command(blender, "-b", "--factory-startup", "--python-expr", warmSceneScript, "--", format, path).CombinedOutput()
	if err != nil {
		t.Fatalf("making the warm test scene: %v\n%s", err, out)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("Blender did not save the warm test scene: %v\n%s", err, out)
	}
	return path
}

// renderParams are the parameters Simple Blender Render sends for args.
func renderParams(scene string, args ...string) map[string]any {
	return map[string]any{"exe": "blender", "exeArgs": "-b -y", "argsBefore": list(), "blendfile": scene, "args": list(args...)}
}

// mustRender runs one task and fails the test unless it completed.
func mustRender(t *testing.T, p sdk.Plugin, params map[string]any, opts ...sdktest.Options) *sdktest.Result {
	t.Helper()
	res := sdktest.Run(t, p, "blender-render", params, opts...)
	if res.Status != sdktest.Completed {
		t.Fatalf("render %s: %s\n%s", res.Status, res.Message, strings.Join(res.Lines, "\n"))
	}
	return res
}

// mode is how a task's log says it ran: "warm", "cold" (a Blender of its
// own) or "new" (it started a warm session), and why.
func mode(res *sdktest.Result) (string, string) {
	for _, l := range res.Lines {
		switch {
		case strings.HasPrefix(l, "cajon-plugin-blender: warm: "):
			return "warm", l
		case strings.HasPrefix(l, "cajon-plugin-blender: cold: this task starts a warm Blender session"):
			return "new", l
		case strings.HasPrefix(l, "cajon-plugin-blender: cold: "):
			return "cold", strings.TrimPrefix(l, "cajon-plugin-blender: cold: ")
		}
	}
	return "", ""
}

// wantMode fails the test unless res ran as want; why, if set, must be in
// the reason.
func wantMode(t *testing.T, what string, res *sdktest.Result, want, why string) {
	t.Helper()
	got, line := mode(res)
	if got != want || !strings.Contains(line, why) {
		t.Errorf("%s ran %s (%q), want %s saying %q\n%s", what, got, line, want, why, strings.Join(res.Lines, "\n"))
	}
}

// framePixels decodes a frame with ffmpeg into raw pixels at full depth
// (16-bit RGBA, 32-bit float for EXR) and returns their hash.
func framePixels(t *testing.T, ffmpeg, path string) string {
	t.Helper()
	pixFmt := "rgba64le"
	if strings.HasSuffix(path, ".exr") {
		pixFmt = "gbrapf32le"
	}
	cmd := exec.Command(ffmpeg, "-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", pixFmt, "-")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil || out.Len() == 0 {
		t.Fatalf("decoding %s with ffmpeg: %v\n%s", path, err, errOut.String())
	}
	sum := sha256.Sum256(out.Bytes())
	return hex.EncodeToString(sum[:])
}

// framesIn returns the files in dir (not in its folders) by name, each with its decoded pixels.
func framesIn(t *testing.T, ffmpeg, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		out[e.Name()] = framePixels(t, ffmpeg, filepath.Join(dir, e.Name()))
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TestWarmMatchesCold renders the same tasks cold (a Blender per task) and
// in a warm session, and compares the files: the same names and, decoded,
// the same pixels. Frames 1, 3, 2 of one session in that order: the session
// reloads the scene between tasks, so no task inherits anything (frame 2
// renders after 3 like a fresh start would). Output formats PNG, EXR, JPEG;
// then the other options: --scene, -s/-e/-a, a relative frame, --engine.
func TestWarmMatchesCold(t *testing.T) {
	blender := needBlender(t)
	ffmpeg := needFFmpeg(t)
	isolateTemp(t)
	dir := t.TempDir()
	tests := []struct {
		name   string
		format string     // the scene's file_format
		tasks  [][]string // args per task, with OUT for the output pattern
	}{
		{"PNG", "PNG", [][]string{
			{"--render-output", "OUT", "--render-format", "PNG", "--render-frame", "1"},
			{"--render-output", "OUT", "--render-format", "PNG", "--render-frame", "3"},
			{"--render-output", "OUT", "--render-format", "PNG", "--render-frame", "2"},
		}},
		{"EXR", "OPEN_EXR", [][]string{
			{"--render-output", "OUT", "--render-format", "OPEN_EXR", "--render-frame", "3"},
			{"--render-output", "OUT", "--render-format", "OPEN_EXR", "--render-frame", "2"},
		}},
		{"JPEG", "JPEG", [][]string{
			{"--render-output", "OUT", "--render-format", "JPEG", "--render-frame", "3"},
			{"--render-output", "OUT", "--render-format", "JPEG", "--render-frame", "2"},
		}},
		{"scene and lists", "PNG", [][]string{
			{"--scene", "Other", "--render-output", "OUT", "--render-format", "PNG", "--render-frame", "1,4..5"},
			{"--scene", "Other", "--render-output", "OUT", "--render-format", "PNG", "--render-frame", "+1"},
		}},
		{"start end anim", "PNG", [][]string{
			{"-o", "OUT", "-s", "6", "-e", "7", "-j", "1", "-a"},
			{"-o", "OUT", "-s", "2", "-e", "+0", "-j", "9", "-a"},
		}},
		{"other options", "PNG", [][]string{
			{"-o", "OUT", "-x", "0", "-E", "CYCLES", "-f", "-1"},
			{"-o", "OUT", "-x", "0", "-E", "CYCLES", "-f", "+2"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			scene := makeWarmScene(t, blender, dir, tt.format)
			run := func(p sdk.Plugin, out string, cfg map[string]any) []*sdktest.Result {
				var results []*sdktest.Result
				for _, args := range tt.tasks {
					args = append([]string(nil), args...)
					for i, a := range args {
						if a == "OUT" {
							args[i] = filepath.Join(out, "frame-####")
						}
					}
					results = append(results, mustRender(t, p, renderParams(scene, args...), sdktest.Options{Config: cfg}))
				}
				return results
			}
			coldDir, warmDir := filepath.Join(dir, tt.name, "cold"), filepath.Join(dir, tt.name, "warm")
			cold := run(testPlugin(t), coldDir, map[string]any{"warm_sessions": false})
			warm := run(testPlugin(t), warmDir, nil)
			for i := range tt.tasks {
				wantMode(t, "cold run, task "+tt.tasks[i][len(tt.tasks[i])-1], cold[i], "cold", "warm_sessions is off")
				want := "warm"
				if i == 0 {
					want = "new"
				}
				wantMode(t, "warm run, task "+tt.tasks[i][len(tt.tasks[i])-1], warm[i], want, "")
				if len(cold[i].Outputs) != len(warm[i].Outputs) {
					t.Errorf("task %d: cold outputs %v, warm outputs %v", i, cold[i].Outputs, warm[i].Outputs)
				}
			}
			coldFrames, warmFrames := framesIn(t, ffmpeg, coldDir), framesIn(t, ffmpeg, warmDir)
			if c, w := sortedKeys(coldFrames), sortedKeys(warmFrames); strings.Join(c, " ") != strings.Join(w, " ") || len(c) == 0 {
				t.Fatalf("cold wrote %q, warm wrote %q", c, w)
			}
			distinct := map[string]bool{}
			for name, px := range coldFrames {
				distinct[px] = true
				if warmFrames[name] != px {
					t.Errorf("%s: the warm session's pixels differ from the cold Blender's", name)
				}
			}
			if len(distinct) != len(coldFrames) {
				t.Errorf("frames %q do not all differ: the test scene does not show a wrong frame", sortedKeys(coldFrames))
			}
		})
	}
}

// waitGone waits, up to a minute, until pid no longer runs.
func waitGone(t *testing.T, pid int, what string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("%s (pid %d) still runs after a minute", what, pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
