package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/sdk"
	"github.com/cajonfarm/cajon/sdk/sdktest"
)

// probeExpr prints what a script sees of its Blender: its namespace, the
// command line, the context, and whether an earlier script left a global
// behind. Warm and cold must print the same.
const probeExpr = `import sys, bpy, builtins, __main__
print("probe:", __name__, __file__, sorted(globals()), __main__.__dict__ is globals())
print("probe: argv", sys.argv)
print("probe: context", bpy.context.scene.name, bpy.context.window is not None, getattr(bpy.context.screen, "name", None), bpy.context.area)
print("probe: leftovers", "leftover" in globals(), hasattr(builtins, "leftover"))
leftover = 1
`

// scriptLines are the lines of a task's log that its scripts printed, or
// Blender printed about them: probes and Python errors with their
// tracebacks.
func scriptLines(res *sdktest.Result) []string {
	var out []string
	inError := false
	exception := regexp.MustCompile(`^\w+(Error|Exception): `)
	for _, l := range res.Lines {
		switch {
		case strings.HasPrefix(l, "probe:"), strings.HasPrefix(l, "Error: script failed"):
			out = append(out, l)
		case strings.HasPrefix(l, "Error: Python:"):
			out = append(out, l)
			inError = !exception.MatchString(strings.TrimPrefix(l, "Error: Python: "))
		case inError:
			out = append(out, l)
			inError = !exception.MatchString(l)
		}
	}
	return out
}

// TestWarmScriptsLikeCold runs tasks with scripts in a warm session and in
// a Blender each, and compares what the scripts saw and what Blender
// printed about them (Blender 3.4's behaviour: a fresh __main__ per
// script, sys.argv the whole command line, a failing script's traceback
// and the next argument applied all the same; --python-exit-code and
// sys.exit end the task with their status). Tasks 2 on run warm.
func TestWarmScriptsLikeCold(t *testing.T) {
	blender := needBlender(t)
	ffmpeg := needFFmpeg(t)
	isolateTemp(t)
	dir := t.TempDir()
	scene := makeWarmScene(t, blender, dir, "PNG")
	file := filepath.Join(dir, "probe.py")
	if err := os.WriteFile(file, []byte(probeExpr+"raise KeyError('from the file')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tasks := []struct {
		name   string
		args   []string
		status string // "" = completes; else in the failure message
	}{
		{"expressions, a file, arguments for scripts", []string{"--python-expr", probeExpr, "--python-expr", "raise ValueError('boom')",
			"--python", file, "--python-expr", probeExpr, "--render-frame", "1", "--", "a", "-f", "2"}, ""},
		{"the same again", []string{"--python-expr", probeExpr, "--python", file, "--render-frame", "2", "--", "b"}, ""},
		{"a syntax error", []string{"--python-expr", "x = (", "--python-expr", probeExpr, "--render-frame", "3"}, ""},
		{"exit code after a failure", []string{"--python-exit-code", "3", "--python-expr", probeExpr, "--python-expr", "raise KeyError('k')",
			"--python-expr", "print('probe: not reached')", "--render-frame", "4"}, "exited with status 3"},
		{"sys.exit", []string{"--python-expr", "import sys; print('probe: exiting'); sys.exit(4)", "--render-frame", "5"}, "exited with status 4"},
		{"a script's sys.exit with a message", []string{"--python-expr", "raise SystemExit('probe: bye')", "--render-frame", "5"}, "exited with status 1"},
		{"after an exit", []string{"--python-expr", probeExpr, "--render-frame", "6"}, ""},
	}
	run := func(p sdk.Plugin, out string, cfg map[string]any) []*sdktest.Result {
		var results []*sdktest.Result
		for _, tk := range tasks {
			args := append([]string{"--render-output", filepath.Join(out, "frame-####"), "--render-format", "PNG"}, tk.args...)
			res := sdktest.Run(t, p, "blender-render", renderParams(scene, args...), sdktest.Options{Config: cfg, JobID: "job-scripts"})
			if tk.status == "" && res.Status != sdktest.Completed {
				t.Fatalf("%s: %s: %s\n%s", tk.name, res.Status, res.Message, strings.Join(res.Lines, "\n"))
			}
			if tk.status != "" && (res.Status == sdktest.Completed || !strings.Contains(res.Message, tk.status)) {
				t.Fatalf("%s: %s (%s), want a failure saying %q\n%s", tk.name, res.Status, res.Message, tk.status, strings.Join(res.Lines, "\n"))
			}
			results = append(results, res)
		}
		return results
	}
	coldDir, warmDir := filepath.Join(dir, "cold"), filepath.Join(dir, "warm")
	cold := run(testPlugin(t), coldDir, map[string]any{"warm_sessions": false})
	warm := run(testPlugin(t), warmDir, nil)
	wantMode(t, "task 1", warm[0], "new", "")
	for i, tk := range tasks {
		if i > 0 {
			wantMode(t, tk.name, warm[i], "warm", "")
		}
		c, w := scriptLines(cold[i]), scriptLines(warm[i])
		if len(c) == 0 {
			t.Errorf("%s: the cold Blender printed nothing of its scripts\n%s", tk.name, strings.Join(cold[i].Lines, "\n"))
		}
		// The output folder is in sys.argv: the same in both.
		for j := range w {
			w[j] = strings.ReplaceAll(w[j], warmDir+string(filepath.Separator), coldDir+string(filepath.Separator))
		}
		if strings.Join(c, "\n") != strings.Join(w, "\n") {
			t.Errorf("%s: the scripts printed, cold:\n%s\n\nwarm:\n%s", tk.name, strings.Join(c, "\n"), strings.Join(w, "\n"))
		}
	}
	samePixels(t, framesIn(t, ffmpeg, coldDir), framesIn(t, ffmpeg, warmDir), 3)
}

// samePixels fails the test unless warm has the frames of cold, at least
// min of them, with the same pixels.
func samePixels(t *testing.T, cold, warm map[string]string, min int) {
	t.Helper()
	if len(cold) < min || strings.Join(sortedKeys(cold), " ") != strings.Join(sortedKeys(warm), " ") {
		t.Fatalf("cold wrote %q, warm wrote %q (want at least %d, the same)", sortedKeys(cold), sortedKeys(warm), min)
	}
	for name, px := range cold {
		if warm[name] != px {
			t.Errorf("%s: the warm session's pixels differ from a fresh Blender's", name)
		}
	}
}

// scriptStateKinds are tasks whose --python-expr keeps a count of the
// tasks that ran it somewhere a reload of the file does not reset, and
// moves the cube by that count: in a fresh Blender each task counts 1.
// names is what the driver must name when it does not reuse the Blender;
// "" where it puts the state back (or the load resets it) and stays warm.
var scriptStateKinds = []struct {
	kind, code, names string
}{
	{"preferences", "p = bpy.context.preferences.edit\np.undo_steps += 1\nn = p.undo_steps - 32", ""},
	{"add-on preferences", "p = bpy.context.preferences.addons['cycles'].preferences\nn = 2 if p.peer_memory else 1\np.peer_memory = True", ""},
	{"environment", "n = int(os.environ.get('CAJON_TEST_SEEN', '0')) + 1\nos.environ['CAJON_TEST_SEEN'] = str(n)", ""},
	{"working folder", "n = 2 if os.getcwd().endswith('cajon-sub') else 1\nos.makedirs('cajon-sub', exist_ok=True)\nos.chdir('cajon-sub')", ""},
	{"sys.path", "sys.path.append('/cajon-marker')\nn = sys.path.count('/cajon-marker')", ""},
	{"driver namespace", "ns = bpy.app.driver_namespace\nns['cajon_seen'] = n = ns.get('cajon_seen', 0) + 1", ""},
	{"module", "m = sys.modules.setdefault('cajon_counter', types.ModuleType('cajon_counter'))\nm.n = n = getattr(m, 'n', 0) + 1", "cajon_counter"},
	{"builtins", "builtins.cajon_seen = n = getattr(builtins, 'cajon_seen', 0) + 1", "builtins.cajon_seen"},
	{"class attribute", "bpy.types.Scene.cajon_seen = n = getattr(bpy.types.Scene, 'cajon_seen', 0) + 1", "bpy.types.Scene.cajon_seen"},
	{"persistent handler", "@bpy.app.handlers.persistent\ndef cajon_stays(*args): pass\nbpy.app.handlers.load_post.append(cajon_stays)\nn = len(bpy.app.handlers.load_post)", "bpy.app.handlers"},
	// The reload would read the copy.
	{"another blend file", "n = 2 if bpy.data.filepath.endswith('copy.blend') else 1\nbpy.ops.wm.save_as_mainfile(filepath=os.path.join(os.path.dirname(bpy.data.filepath), 'copy.blend'))", "another blend file open"},
	// Checked before the render it would change: the task renders cold.
	{"persistent data", "bpy.context.scene.render.use_persistent_data = True\nn = 1", "Persistent Data"},
}

// TestWarmScriptStateLikeCold: tasks whose scripts keep state where a
// reload of the file does not reset it render the pixels of a fresh
// Blender: the driver puts the preferences, environment, working folder
// and sys.path back and stays warm; any other state it sees, and the job's
// next tasks render cold, saying why.
func TestWarmScriptStateLikeCold(t *testing.T) {
	blender := needBlender(t)
	ffmpeg := needFFmpeg(t)
	isolateTemp(t)
	scene := makeWarmScene(t, blender, t.TempDir(), "PNG")
	const tasks = 3
	for _, sk := range scriptStateKinds {
		t.Run(sk.kind, func(t *testing.T) {
			dir := t.TempDir()
			expr := "import bpy, builtins, os, sys, types\n" + sk.code + "\nbpy.data.objects['Cube'].location.x = 0.3 * (n - 1)\n"
			run := func(p sdk.Plugin, out string, cfg map[string]any) []*sdktest.Result {
				var results []*sdktest.Result
				for f := 1; f <= tasks; f++ {
					params := renderParams(scene, "--python-expr", expr, "--render-output", filepath.Join(out, "frame-####"), "--render-format", "PNG", "--render-frame", strconv.Itoa(f))
					results = append(results, mustRender(t, p, params, sdktest.Options{Config: cfg, JobID: "job-" + sk.kind}))
				}
				return results
			}
			coldDir, warmDir := filepath.Join(dir, "cold"), filepath.Join(dir, "warm")
			run(testPlugin(t), coldDir, map[string]any{"warm_sessions": false})
			warm := run(testPlugin(t), warmDir, nil)
			wantMode(t, "task 1", warm[0], "new", "")
			for i, res := range warm[1:] {
				what := fmt.Sprintf("task %d", i+2)
				if sk.names == "" {
					wantMode(t, what, res, "warm", "")
					continue
				}
				wantMode(t, what, res, "cold", sk.names)
			}
			samePixels(t, framesIn(t, ffmpeg, coldDir), framesIn(t, ffmpeg, warmDir), tasks)
		})
	}
}

// tileExpr renders one tile of the image by itself, as the tasks of the
// Single Image Render job type do: a render border, cropped, saved by the
// render operator to --render-output as EXR.
const tileExpr = `import bpy
r = bpy.context.scene.render
r.image_settings.file_format = 'OPEN_EXR'
r.use_compositing = False
r.use_stamp = False
r.border_min_x, r.border_min_y, r.border_max_x, r.border_max_y = %g, %g, %g, %g
r.use_border = True
r.use_crop_to_border = True
bpy.ops.render.render(write_still=True)
`

// TestWarmJobTypesLikeCold renders the tasks of two script-driven job
// types warm and in a Blender each, and compares their pixels: Single
// Image Render's tiles (an expression per tile that renders by itself, no
// --render-frame) and its merge (compositing on), and Cycles OPTIX GPU's
// chunks (an expression that sets Cycles' preferences, which raises on a
// machine without OptiX and goes on, one that sets the GPU device, then
// --render-frame ranges). Every task after the first runs warm, and the
// files the scripts saved are reported as outputs.
func TestWarmJobTypesLikeCold(t *testing.T) {
	blender := needBlender(t)
	ffmpeg := needFFmpeg(t)
	isolateTemp(t)
	scene := makeWarmScene(t, blender, t.TempDir(), "PNG")
	const prefsExpr = `
import bpy
prefs = bpy.context.preferences.addons['cycles'].preferences
prefs.compute_device_type = 'OPTIX'
for d in prefs.get_devices_for_type('OPTIX'):
    d.use = d.type != 'CPU'
`
	type task struct {
		args   []string
		output string // a file the task must report, under the output folder
	}
	jobs := []struct {
		name  string
		tasks func(out string) []task
	}{
		{"single image", func(out string) []task {
			var ts []task
			for _, b := range [][4]int{{0, 0, 32, 18}, {32, 0, 64, 18}, {0, 18, 32, 36}, {32, 18, 64, 36}} {
				name := fmt.Sprintf("%d-%d-%d-%d", b[0], b[1], b[2], b[3])
				expr := fmt.Sprintf(tileExpr, float64(b[0])/64, float64(b[1])/36, float64(b[2])/64, float64(b[3])/36)
				ts = append(ts, task{[]string{"--render-output", filepath.Join(out, "tiles", name), "--render-format", "PNG", "--python-expr", expr}, filepath.Join("tiles", name+".exr")})
			}
			merge := "import bpy\nbpy.context.scene.render.use_compositing = True\nbpy.ops.render.render(write_still=True)\n"
			return append(ts, task{[]string{"--render-output", filepath.Join(out, "merged"), "--render-format", "PNG", "--python-expr", merge}, "merged.png"})
		}},
		{"optix", func(out string) []task {
			var ts []task
			for _, chunk := range []string{"1..2", "3..4", "5..5"} {
				ts = append(ts, task{[]string{"--python-expr", prefsExpr, "--python-expr", "import bpy; bpy.context.scene.cycles.device = 'GPU'",
					"--render-output", filepath.Join(out, "######"), "--render-format", "PNG", "--render-frame", chunk}, ""})
			}
			ts[0].output = "000001.png"
			return ts
		}},
	}
	for _, job := range jobs {
		t.Run(job.name, func(t *testing.T) {
			dir := t.TempDir()
			run := func(p sdk.Plugin, out string, cfg map[string]any) []*sdktest.Result {
				var results []*sdktest.Result
				for _, tk := range job.tasks(out) {
					res := mustRender(t, p, renderParams(scene, tk.args...), sdktest.Options{Config: cfg, JobID: "job-" + job.name})
					if tk.output != "" {
						want := filepath.Join(out, tk.output)
						if got := outputsByType(res)[mimeType(want)]; len(got) == 0 || got[0] != want {
							t.Errorf("the task reported outputs %q, want %s", got, want)
						}
					}
					results = append(results, res)
				}
				return results
			}
			coldDir, warmDir := filepath.Join(dir, "cold"), filepath.Join(dir, "warm")
			run(testPlugin(t), coldDir, map[string]any{"warm_sessions": false})
			warm := run(testPlugin(t), warmDir, nil)
			wantMode(t, "task 1", warm[0], "new", "")
			for i, res := range warm[1:] {
				wantMode(t, fmt.Sprintf("task %d", i+2), res, "warm", "")
			}
			samePixels(t, framesIn(t, ffmpeg, coldDir), framesIn(t, ffmpeg, warmDir), 1)
			if job.name == "single image" {
				samePixels(t, framesIn(t, ffmpeg, filepath.Join(coldDir, "tiles")), framesIn(t, ffmpeg, filepath.Join(warmDir, "tiles")), 4)
			}
		})
	}
}

// TestWarmLateRefusal: an argument after a script is checked when its turn
// comes; one the driver cannot apply exactly then (here a --render-frame
// after a script that switched the window's scene) makes the task render
// again cold from the start, with the pixels of a cold Blender, and the
// job's next task cold at once.
func TestWarmLateRefusal(t *testing.T) {
	blender := needBlender(t)
	ffmpeg := needFFmpeg(t)
	isolateTemp(t)
	dir := t.TempDir()
	scene := makeWarmScene(t, blender, dir, "PNG")
	switchScene := "import bpy; bpy.context.window.scene = bpy.data.scenes['Other']"
	run := func(p sdk.Plugin, out string, cfg map[string]any) []*sdktest.Result {
		var results []*sdktest.Result
		for f := 1; f <= 2; f++ {
			params := renderParams(scene, "--render-output", filepath.Join(out, "frame-####"), "--render-format", "PNG", "--python-expr", switchScene, "--render-frame", strconv.Itoa(f))
			results = append(results, mustRender(t, p, params, sdktest.Options{Config: cfg, JobID: "job-late"}))
		}
		return results
	}
	coldDir, warmDir := filepath.Join(dir, "cold"), filepath.Join(dir, "warm")
	run(testPlugin(t), coldDir, map[string]any{"warm_sessions": false})
	warm := run(testPlugin(t), warmDir, nil)
	if log := strings.Join(warm[0].Lines, "\n"); !strings.Contains(log, "cajon-plugin-blender: cold: the warm session cannot apply these arguments exactly as Blender's command line does: a script switched the scene before --render-frame") {
		t.Errorf("task 1 does not say it renders again cold because of the scene switch:\n%s", log)
	}
	wantMode(t, "task 2", warm[1], "cold", "an earlier task of this job could not render warm")
	samePixels(t, framesIn(t, ffmpeg, coldDir), framesIn(t, ffmpeg, warmDir), 2)
}
