package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/cajonfarm/cajon/sdk"
	"github.com/cajonfarm/cajon/sdk/sdktest"
)

// stateSceneScript makes a scene whose registered text "state_hook.py"
// (run at load with -y) keeps a count of the frames it has seen somewhere
// a reload of the file does not reset, and moves the cube by that count:
// in a fresh Blender per task every frame sees a count of 1; a Blender
// reused without care renders frames 2, 3, ... with the cube moved further
// each time. argv[-2] says where the count lives (see stateKinds).
const stateSceneScript = `
import bpy, sys
kind, path = sys.argv[-2], sys.argv[-1]
s = bpy.context.scene
s.render.engine = 'CYCLES'
s.cycles.device = 'CPU'
s.cycles.samples = 2
s.cycles.use_denoising = False
s.cycles.seed = 7
s.render.resolution_x = 64
s.render.resolution_y = 36
s.render.resolution_percentage = 100
s.render.image_settings.file_format = 'PNG'
s.frame_start, s.frame_end = 1, 10
hook = bpy.data.texts.new('state_hook.py')
hook.use_module = True
hook.write('''
import bpy, os, sys
KIND = %r
def bump():
    if KIND == "class-attribute":
        if not hasattr(bpy.types.Scene, "cajon_seen"):
            bpy.types.Scene.cajon_seen = 0
        bpy.types.Scene.cajon_seen += 1
        return bpy.types.Scene.cajon_seen
    if KIND == "module":
        folder = os.path.dirname(bpy.data.filepath)
        if folder not in sys.path:
            sys.path.append(folder)
        import cajon_state_helper
        cajon_state_helper.seen += 1
        return cajon_state_helper.seen
    if KIND == "driver-namespace":
        ns = bpy.app.driver_namespace
        ns["cajon_seen"] = ns.get("cajon_seen", 0) + 1
        return ns["cajon_seen"]
    if KIND == "environment":
        n = int(os.environ.get("CAJON_TEST_SEEN", "0")) + 1
        os.environ["CAJON_TEST_SEEN"] = str(n)
        return n
    return 1  # "none": a script that keeps nothing
def pre(scene, *args):
    n = bump()
    scene.objects["Cube"].location.x = 0.3 * (n - 1)
bpy.app.handlers.frame_change_pre.append(pre)
''' % kind)
bpy.ops.wm.save_as_mainfile(filepath=path)
`

// stateKinds are the places the test scene's script keeps its count, what
// the warm session's driver must name when it refuses to reuse the Blender
// ("" when the session must stay warm), and how many frames (tasks) to
// render: six for the case, three for the others.
var stateKinds = []struct {
	kind, names string
	frames      int
}{
	{"class-attribute", "bpy.types.Scene.cajon_seen", 6},
	{"module", "cajon_state_helper", 3},
	// The driver puts the environment back before the reload (as it does
	// the working folder, sys.path and the preferences): it stays warm.
	{"environment", "", 3},
	// A load of the file resets bpy.app.driver_namespace, and so does the
	// reload: the warm Blender is like a fresh one and stays warm.
	{"driver-namespace", "", 3},
	{"none", "", 3},
}

// TestWarmScriptStateRendersCold renders scenes whose scripts keep state
// across a reload of the file, one frame per task, in a warm session and
// in a Blender per task: the pixels must be equal (the case: a
// bpy.types class attribute made frames 2 to 6 differ), because the driver
// sees the state and the job's next tasks render cold, saying why. A
// script that keeps nothing, or keeps it where a load resets it, stays
// warm, and so does one that keeps it in the environment, which the
// driver puts back.
func TestWarmScriptStateRendersCold(t *testing.T) {
	blender := needBlender(t)
	ffmpeg := needFFmpeg(t)
	isolateTemp(t)
	for _, sk := range stateKinds {
		frames := sk.frames
		t.Run(sk.kind, func(t *testing.T) {
			dir := t.TempDir()
			scene := filepath.Join(dir, "state.blend")
			if out, err := exec.Command(blender, "-b", "--factory-startup", "--python-expr", stateSceneScript, "--", sk.kind, scene).CombinedOutput(); err != nil {
				t.Fatalf("making the scene: %v\n%s", err, out)
			}
			if err := os.WriteFile(filepath.Join(dir, "cajon_state_helper.py"), []byte("seen = 0\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			run := func(p sdk.Plugin, out string, cfg map[string]any) []*sdktest.Result {
				var results []*sdktest.Result
				for f := 1; f <= frames; f++ {
					params := renderParams(scene, "--render-output", filepath.Join(out, "frame-####"), "--render-format", "PNG", "--render-frame", strconv.Itoa(f))
					results = append(results, mustRender(t, p, params, sdktest.Options{Config: cfg, JobID: "job-" + sk.kind}))
				}
				return results
			}
			coldDir, warmDir := filepath.Join(dir, "cold"), filepath.Join(dir, "warm")
			run(testPlugin(t), coldDir, map[string]any{"warm_sessions": false})
			warm := run(testPlugin(t), warmDir, nil)

			wantMode(t, "task 1", warm[0], "new", "")
			for i, res := range warm[1:] {
				what := "task " + strconv.Itoa(i+2)
				if sk.names == "" {
					wantMode(t, what, res, "warm", "")
					continue
				}
				wantMode(t, what, res, "cold", "not warm-safe")
				wantMode(t, what, res, "cold", sk.names)
			}
			coldFrames, warmFrames := framesIn(t, ffmpeg, coldDir), framesIn(t, ffmpeg, warmDir)
			if len(coldFrames) != frames || len(warmFrames) != frames {
				t.Fatalf("cold wrote %q, warm wrote %q; want %d frames each", sortedKeys(coldFrames), sortedKeys(warmFrames), frames)
			}
			var differ []string
			for name, px := range coldFrames {
				if warmFrames[name] != px {
					differ = append(differ, name)
				}
			}
			if len(differ) > 0 {
				t.Errorf("the warm session's pixels differ from a fresh Blender's in %q", differ)
			}
		})
	}
}
