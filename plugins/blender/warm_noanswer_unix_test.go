//go:build unix

package main

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/internal/testwait"
	"github.com/cajonfarm/cajon/sdk/sdktest"
)

// TestWarmBlenderThatDoesNotAnswer stops the warm Blender (SIGSTOP) between
// two tasks: the second task does not hang at "starting Blender", the
// Blender is killed with its tree, and the task renders cold and says why.
func TestWarmBlenderThatDoesNotAnswer(t *testing.T) {
	blender := needBlender(t)
	isolateTemp(t)
	dir := t.TempDir()
	scene := makeWarmScene(t, blender, dir, "PNG")
	warm := testSessions(t)
	p := plugin(warm)
	frame := func(n int) map[string]any {
		return renderParams(scene, "--render-output", filepath.Join(dir, "out", "######"), "--render-format", "PNG", "--render-frame", strconv.Itoa(n))
	}
	first := mustRender(t, p, frame(1), sdktest.Options{JobID: "A"})
	wantMode(t, "task 1", first, "new", "")
	pid := sessionPid(t, first)
	testwait.For(t, "the warm Blender to reload the scene after task 1", func() bool {
		warm.mu.Lock()
		defer warm.mu.Unlock()
		return len(warm.live) == 1 && isClosed(warm.live[0].readyCh())
	})
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })

	// On a hang the task is canceled after a minute, and fails the test.
	second := mustRender(t, p, frame(2), sdktest.Options{JobID: "A", CancelAfter: time.Minute})
	wantMode(t, "task 2", second, "cold", "the warm Blender (pid "+strconv.Itoa(pid)+") did not answer the task within 5s")
	waitGone(t, pid, "the warm Blender that did not answer")
	if !strings.Contains(strings.Join(second.Lines, "\n"), "Saved: ") {
		t.Errorf("task 2 did not render cold:\n%s", strings.Join(second.Lines, "\n"))
	}
}

// hangInReloadScript adds to a warm test scene a script that runs at every
// load of the file (with -y) and hangs at the second load in the same
// Blender: the warm session's reload after its first task.
const hangInReloadScript = `
import bpy
t = bpy.data.texts.new('hang_in_reload.py')
t.use_module = True
t.write("""
import os, time
if os.environ.get("CAJON_TEST_LOADED"):
    print("hook: hanging in the reload", flush=True)
    time.sleep(600)
os.environ["CAJON_TEST_LOADED"] = "1"
""")
bpy.ops.wm.save_mainfile()
`

// TestWarmBlenderThatHangsInItsReload: a warm Blender that does not finish
// reloading the scene after a task is killed with its tree when the next
// task has waited a few times its start, and that task renders cold,
// saying why.
func TestWarmBlenderThatHangsInItsReload(t *testing.T) {
	blender := needBlender(t)
	isolateTemp(t)
	dir := t.TempDir()
	scene := makeWarmScene(t, blender, dir, "PNG")
	if out, err := exec.Command(blender, "-b", scene, "--python-expr", hangInReloadScript).CombinedOutput(); err != nil {
		t.Fatalf("adding the hanging script to the scene: %v\n%s", err, out)
	}
	warm := testSessions(t)
	p := plugin(warm)
	frame := func(n int) map[string]any {
		return renderParams(scene, "--render-output", filepath.Join(dir, "out", "######"), "--render-format", "PNG", "--render-frame", strconv.Itoa(n))
	}
	first := mustRender(t, p, frame(1), sdktest.Options{JobID: "A"})
	wantMode(t, "task 1", first, "new", "")
	pid := sessionPid(t, first)
	second := mustRender(t, p, frame(2), sdktest.Options{JobID: "A", CancelAfter: time.Minute})
	wantMode(t, "task 2", second, "cold", "did not finish reloading the scene within")
	waitGone(t, pid, "the warm Blender that hung in its reload")
}
