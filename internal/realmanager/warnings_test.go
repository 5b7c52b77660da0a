//go:build unix

package realmanager

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// gpuScript picks a GPU API that no node has, as a job that asks for
// OptiX does on a node without it: setting it raises in Blender's Python.
const gpuScript = `import bpy
prefs = bpy.context.preferences.addons['cycles'].preferences
prefs.compute_device_type = 'CAJON_NO_SUCH_GPU_API'
for device in prefs.get_devices_for_type('CAJON_NO_SUCH_GPU_API'):
    device.use = True
`

// TestRenderWithAGPUScriptOnANodeWithoutTheGPU is the real case on
// the real Manager: the job's --python-expr raises on a node without that
// GPU, Blender renders on the CPU and saves the frame. The stock worker
// completes such a task (when it is installed: its half is skipped
// otherwise); so does Cajon, with a warning in the task's log and in its
// activity on the Manager.
func TestRenderWithAGPUScriptOnANodeWithoutTheGPU(t *testing.T) {
	blender, _ := renderTools(t)
	for _, worker := range []string{"stock", "cajon"} {
		t.Run(worker, func(t *testing.T) {
			m := startManager(t)
			blend := filepath.Join(m.Shared, "tiny.blend")
			makeScene(t, blender, blend)
			if worker == "stock" {
				if stockWorker(t, m, "stock-gpu") == nil {
					t.Skip("flamenco-worker is not installed (PATH or FLAMENCO_WORKER): skipping the stock worker's half")
				}
			} else {
				startCajon(t, m, "cajon-gpu", cajonOptions{})
				m.waitWorker("cajon-gpu", "awake", 60*time.Second)
			}

			out := filepath.Join(m.Shared, "render", "gpu")
			job := m.submit("cajon-blender-python", "gpu script", map[string]any{
				"blendfile": blend, "render_output_path": filepath.Join(out, "######"), "python": gpuScript,
			})
			m.waitJob(job, "completed", 5*time.Minute)
			if _, err := os.Stat(filepath.Join(out, "000001.png")); err != nil {
				t.Errorf("the frame: %v", err)
			}
			tasks := m.tasks(job)
			if len(tasks) != 1 {
				t.Fatalf("the job has %d tasks, want 1", len(tasks))
			}
			if worker == "stock" {
				return
			}
			log := string(m.taskLog(tasks[0].ID))
			for _, want := range []string{
				"WARNING: cajon-plugin-blender: Blender reported 1 error, but every frame asked for was saved",
				"CAJON_NO_SUCH_GPU_API",
				`cajon: command "blender-render" completed with 1 warning`,
			} {
				if !strings.Contains(log, want) {
					t.Errorf("the task log on the Manager lacks %q:\n%s", want, log)
				}
			}
			var detail struct {
				Activity string `json:"activity"`
			}
			m.do("GET", "/api/v3/tasks/"+tasks[0].ID, nil, &detail, 200)
			if !strings.HasPrefix(detail.Activity, "completed with 1 warning: cajon-plugin-blender: Blender reported 1 error") {
				t.Errorf("the task's activity on the Manager is %q, want the warning", detail.Activity)
			}
		})
	}
}
