package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/sdk/sdktest"
)

// sessionPid is the pid of the warm Blender a task used (the process it
// reported), 0 for none.
func sessionPid(t *testing.T, res *sdktest.Result) int {
	t.Helper()
	if len(res.Children) != 1 {
		t.Fatalf("the task reported processes %v, want its one Blender", res.Children)
	}
	return res.Children[0]
}

// TestWarmSessionLifecycle follows one plugin's warm Blender through a run
// of tasks: reused while the job and key stay, stopped after
// warm_max_tasks, when the key changes and after warm_idle, each time with
// the reason in the next task's log; kept while a task of another job comes
// between, and taken over by another job with the same key.
func TestWarmSessionLifecycle(t *testing.T) {
	blender := needBlender(t)
	isolateTemp(t)
	dir := t.TempDir()
	scene := makeWarmScene(t, blender, dir, "PNG")
	p := testPlugin(t)
	frame := func(out string, n int) map[string]any {
		return renderParams(scene, "--render-output", filepath.Join(dir, out, "######"), "--render-format", "PNG", "--render-frame", strconv.Itoa(n))
	}
	three := sdktest.Options{Config: map[string]any{"warm_max_tasks": 3}, JobID: "A"}

	a1 := mustRender(t, p, frame("a", 1), three)
	wantMode(t, "task 1", a1, "new", "")
	pid := sessionPid(t, a1)
	a2 := mustRender(t, p, frame("a", 2), three)
	wantMode(t, "task 2", a2, "warm", "task 2 of the session")
	if got := sessionPid(t, a2); got != pid {
		t.Errorf("task 2 rendered in pid %d, want the session's %d", got, pid)
	}
	if !strings.Contains(strings.Join(a2.Lines, "\n"), "Read blend: "+scene) {
		t.Errorf("task 2's log does not show the reload of the scene:\n%s", strings.Join(a2.Lines, "\n"))
	}
	a3 := mustRender(t, p, frame("a", 3), three)
	wantMode(t, "task 3", a3, "warm", "task 3 of the session")
	waitGone(t, pid, "the warm Blender after warm_max_tasks = 3")

	a4 := mustRender(t, p, frame("a", 4), three)
	wantMode(t, "task 4", a4, "new", "it rendered 3 tasks ([plugins.blender] warm_max_tasks)")
	pid = sessionPid(t, a4)
	// Another option before the blend file: another session. (The arguments
	// after it are applied per task and do not matter.)
	threads := func(out string, n int) map[string]any {
		params := frame(out, n)
		params["exeArgs"] = "-b -y -t 1"
		return params
	}
	a5 := mustRender(t, p, threads("elsewhere", 5), three)
	wantMode(t, "task 5", a5, "new", "start options differ")
	waitGone(t, pid, "the warm Blender of other arguments")
	pid = sessionPid(t, a5)

	short := sdktest.Options{Config: map[string]any{"warm_idle": "1s"}, JobID: "B"}
	b1 := mustRender(t, p, frame("b", 1), short)
	wantMode(t, "job B, task 1", b1, "new", "")
	// Job A's warm Blender stays beside job B's.
	a6 := mustRender(t, p, threads("elsewhere", 6), three)
	wantMode(t, "job A after job B", a6, "warm", "task 2 of the session")
	if got := sessionPid(t, a6); got != pid {
		t.Errorf("job A's task after job B's rendered in pid %d, want job A's session %d", got, pid)
	}
	aPid := pid
	pid = sessionPid(t, b1)
	waitGone(t, pid, "the warm Blender after warm_idle = 1s")
	b2 := mustRender(t, p, frame("b", 2), sdktest.Options{JobID: "B"})
	wantMode(t, "job B, task 2", b2, "new", "it had no task for 1s ([plugins.blender] warm_idle)")

	// A job with job A's key and no Blender of its own takes A's idle one
	// over: the reload made it like a fresh one.
	c1 := mustRender(t, p, threads("c", 1), sdktest.Options{JobID: "C"})
	wantMode(t, "job C, task 1", c1, "warm", "task 3 of the session")
	if got := sessionPid(t, c1); got != aPid {
		t.Errorf("job C's task rendered in pid %d, want job A's idle warm Blender %d", got, aPid)
	}
}

// TestWarmAbort aborts a task in the middle of its warm render: the warm
// Blender is killed with it, and the next task starts a new one.
func TestWarmAbort(t *testing.T) {
	blender := needBlender(t)
	isolateTemp(t)
	dir := t.TempDir()
	scene := makeWarmScene(t, blender, dir, "PNG")
	p := testPlugin(t)
	out := filepath.Join(dir, "frames", "######")
	env := map[string]string{"CAJON_TEST_HOOK": "sleep"} // the scene's hook sleeps at frame 2
	first := mustRender(t, p, renderParams(scene, "-o", out, "-f", "1"), sdktest.Options{Env: env})
	pid := sessionPid(t, first)
	res := sdktest.Run(t, p, "blender-render", renderParams(scene, "-o", out, "-f", "2"),
		sdktest.Options{Env: env, CancelAfter: 3 * time.Second, Grace: time.Second})
	if res.Status != sdktest.Canceled {
		t.Fatalf("status %s (%s), want canceled\n%s", res.Status, res.Message, strings.Join(res.Lines, "\n"))
	}
	wantMode(t, "the aborted task", res, "warm", "")
	if !strings.Contains(strings.Join(res.Lines, "\n"), "hook: sleeping") {
		t.Errorf("the task was not aborted in the middle of its render:\n%s", strings.Join(res.Lines, "\n"))
	}
	if alive(pid) {
		t.Errorf("the warm Blender (pid %d) outlived the abort of its task", pid)
	}
	next := mustRender(t, p, renderParams(scene, "-o", out, "-f", "3"), sdktest.Options{Env: env})
	wantMode(t, "the task after the abort", next, "new", "its task was aborted")
}

// TestWarmCrash crashes the warm Blender in the middle of a task: the task
// fails like a cold crash does, and the next task starts a new Blender.
func TestWarmCrash(t *testing.T) {
	blender := needBlender(t)
	isolateTemp(t)
	dir := t.TempDir()
	scene := makeWarmScene(t, blender, dir, "PNG")
	out := filepath.Join(dir, "frames", "######")
	env := map[string]string{"CAJON_TEST_HOOK": "crash"} // the scene's hook segfaults at frame 2

	cold := sdktest.Run(t, testPlugin(t), "blender-render", renderParams(scene, "-o", out, "-f", "2"),
		sdktest.Options{Env: env, Config: map[string]any{"warm_sessions": false}})
	p := testPlugin(t)
	mustRender(t, p, renderParams(scene, "-o", out, "-f", "1"), sdktest.Options{Env: env})
	warm := sdktest.Run(t, p, "blender-render", renderParams(scene, "-o", out, "-f", "2"), sdktest.Options{Env: env})
	wantMode(t, "the crashing task", warm, "warm", "")
	for _, res := range []*sdktest.Result{cold, warm} {
		if res.Status != sdktest.Failed {
			t.Fatalf("status %s (%s), want failed", res.Status, res.Message)
		}
	}
	firstLine := func(s string) string { return strings.SplitN(s, "\n", 2)[0] }
	if c, w := firstLine(cold.Message), firstLine(warm.Message); c != w || !strings.Contains(w, "segmentation fault") {
		t.Errorf("the warm crash says %q, want what the cold one says: %q", w, c)
	}
	if !strings.Contains(warm.Message, "crash report") {
		t.Errorf("the warm crash's message does not point to Blender's crash report:\n%s", warm.Message)
	}
	next := mustRender(t, p, renderParams(scene, "-o", out, "-f", "3"), sdktest.Options{Env: env})
	wantMode(t, "the task after the crash", next, "new", "segmentation fault")
}

// TestWarmColdWhenUnsure: what the driver cannot apply exactly renders cold,
// with the reason; a refusal holds for the rest of the job, and a Blender
// whose scripts leave state behind after a reload is not reused.
func TestWarmColdWhenUnsure(t *testing.T) {
	blender := needBlender(t)
	isolateTemp(t)
	dir := t.TempDir()
	scene := makeWarmScene(t, blender, dir, "PNG")
	out := filepath.Join(dir, "frames", "######")

	t.Run("format the command line would leave odd", func(t *testing.T) {
		// The scene is RGBA PNG: Blender 3.x's -F JPEG keeps RGBA, which
		// the Python API cannot set.
		p := testPlugin(t)
		first := mustRender(t, p, renderParams(scene, "-o", out, "-F", "JPEG", "-f", "1"))
		wantMode(t, "task 1", first, "cold", "--render-format JPEG")
		second := mustRender(t, p, renderParams(scene, "-o", out, "-F", "JPEG", "-f", "2"))
		wantMode(t, "task 2", second, "cold", "an earlier task of this job could not render warm with these arguments")
		if n := strings.Count(strings.Join(second.Lines, "\n"), "cajon-plugin-blender: running "); n != 1 {
			t.Errorf("task 2 logs %d command lines, want 1", n)
		}
	})
	t.Run("handlers that survive a reload", func(t *testing.T) {
		p := testPlugin(t)
		env := map[string]string{"CAJON_TEST_HOOK": "handler"}
		first := mustRender(t, p, renderParams(scene, "-o", out, "-f", "1"), sdktest.Options{Env: env})
		wantMode(t, "task 1", first, "new", "")
		waitGone(t, sessionPid(t, first), "the warm Blender that is no longer like a fresh one")
		second := mustRender(t, p, renderParams(scene, "-o", out, "-f", "2"), sdktest.Options{Env: env})
		wantMode(t, "task 2", second, "cold", "not warm-safe")
		wantMode(t, "task 2", second, "cold", "bpy.app.handlers: load_post changed")
	})
	t.Run("memory past warm_max_rss", func(t *testing.T) {
		if runtime.GOOS != "linux" {
			t.Skip("warm_max_rss is measured on Linux only")
		}
		p := testPlugin(t)
		cfg := sdktest.Options{Config: map[string]any{"warm_max_rss": "1MiB"}}
		first := mustRender(t, p, renderParams(scene, "-o", out, "-f", "1"), cfg)
		waitGone(t, sessionPid(t, first), "the warm Blender past warm_max_rss")
		second := mustRender(t, p, renderParams(scene, "-o", out, "-f", "2"), cfg)
		wantMode(t, "task 2", second, "new", "passed [plugins.blender] warm_max_rss (1.0 MiB)")
	})
	t.Run("a text block run on the command line", func(t *testing.T) {
		res := mustRender(t, testPlugin(t), renderParams(scene, "--python-text", "warm_hook.py", "-o", out, "-f", "1"))
		wantMode(t, "the task", res, "cold", `argument "--python-text" is not one the warm session applies`)
	})
}

// TestWarmReloadOutputReachesTheNextTask: what Blender prints while it
// reloads the file between tasks belongs to the next task, as a cold
// Blender prints it when it loads: a linked library that is missing is
// reported by every task (a warning: the frame is saved all the same).
func TestWarmReloadOutputReachesTheNextTask(t *testing.T) {
	blender := needBlender(t)
	isolateTemp(t)
	dir := t.TempDir()
	scene := makeScene(t, blender, dir)
	linked, _ := makeLinkedScene(t, blender, dir, scene)
	p := testPlugin(t)
	out := filepath.Join(dir, "frames", "######")
	for i, want := range []string{"new", "warm"} {
		res := sdktest.Run(t, p, "blender-render", renderParams(linked, "-o", out, "-f", strconv.Itoa(i+1)))
		wantMode(t, "task "+strconv.Itoa(i+1), res, want, "")
		if res.Status != sdktest.Completed || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "could not open files") {
			t.Errorf("task %d: %s (%s) with warnings %q, want it completed with a warning of the missing library", i+1, res.Status, res.Message, res.Warnings)
		}
	}
}

// TestWarmTwoAtOnce: two tasks of a job at the same time (the local queue
// with two slots) each get a warm Blender of their own; a third past
// warm_max_sessions renders cold.
func TestWarmTwoAtOnce(t *testing.T) {
	blender := needBlender(t)
	isolateTemp(t)
	dir := t.TempDir()
	scene := makeWarmScene(t, blender, dir, "PNG")
	pool := testSessions(t)
	p := plugin(pool)
	params := func(n int) map[string]any {
		return renderParams(scene, "--render-output", filepath.Join(dir, "frames", "######"), "--render-format", "PNG", "--render-frame", strconv.Itoa(n))
	}
	pair := func(a, b int) [2]*sdktest.Result {
		var out [2]*sdktest.Result
		var wg sync.WaitGroup
		for i, n := range []int{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out[i] = sdktest.Run(t, p, "blender-render", params(n))
			}()
		}
		wg.Wait()
		for i, res := range out {
			if res.Status != sdktest.Completed {
				t.Fatalf("task %d: %s: %s\n%s", i, res.Status, res.Message, strings.Join(res.Lines, "\n"))
			}
		}
		return out
	}
	first := pair(1, 2)
	pids := map[int]bool{}
	for i, res := range first {
		wantMode(t, "round 1, task "+strconv.Itoa(i+1), res, "new", "")
		pids[sessionPid(t, res)] = true
	}
	if len(pids) != 2 {
		t.Fatalf("two tasks at once rendered in Blenders %v, want two", pids)
	}
	for i, res := range pair(3, 4) {
		wantMode(t, "round 2, task "+strconv.Itoa(i+1), res, "warm", "task 2 of the session")
		if !pids[sessionPid(t, res)] {
			t.Errorf("round 2, task %d rendered in pid %d, not in one of round 1's %v", i+1, sessionPid(t, res), pids)
		}
	}
	// With warm_max_sessions = 2, a third task while both are taken renders
	// cold.
	two := defaultConfig()
	two.WarmMaxSessions = 2
	var held []claim
	for range 2 {
		wt, why := warmFor(mustLookPath(t, "blender"), []string{"-b", "-y"}, nil, scene,
			[]string{"--render-output", filepath.Join(dir, "frames", "######"), "--render-format", "PNG", "--render-frame", "9"}, "", nil)
		if why != "" {
			t.Fatal(why)
		}
		c, why := pool.take("job", wt.key, two)
		if c.s == nil {
			t.Fatalf("could not take a warm Blender: %s", why)
		}
		held = append(held, c)
	}
	third := mustRender(t, p, params(5), sdktest.Options{Config: map[string]any{"warm_max_sessions": 2}})
	wantMode(t, "a third task", third, "cold", "the warm Blenders are busy with other tasks ([plugins.blender] warm_max_sessions = 2)")
	for _, c := range held {
		pool.release(c.s, defaultConfig())
	}
}

func mustLookPath(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// TestWarmBlenderThatDoesNotComeUp: a Blender that exits before its driver
// connects (here a stand-in that prints and exits) makes the task render
// cold, and the job's next tasks go cold at once instead of trying again.
func TestWarmBlenderThatDoesNotComeUp(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the stand-in Blender is a shell script")
	}
	dir := t.TempDir()
	fake := filepath.Join(dir, "blender")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho \"not really Blender: $*\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	scene := filepath.Join(dir, "scene.blend")
	if err := os.WriteFile(scene, []byte("BLENDER"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := testPlugin(t)
	params := renderParams(scene, "-o", filepath.Join(dir, "######"), "-f", "1")
	params["exe"] = fake
	first := sdktest.Run(t, p, "blender-render", params)
	wantMode(t, "task 1", first, "cold", "the warm Blender did not get ready: Blender exited with status 0")
	if first.Status != sdktest.Failed || !strings.Contains(first.Message, "without rendering any of the 1 frames") {
		t.Errorf("task 1: %s (%s), want the cold run's failure", first.Status, first.Message)
	}
	second := sdktest.Run(t, p, "blender-render", params)
	wantMode(t, "task 2", second, "cold", "an earlier task of this job could not render warm")
	if len(second.Children) != 1 {
		t.Errorf("task 2 ran %d processes, want the cold one only", len(second.Children))
	}
	ran := 0
	for _, l := range second.Lines {
		// Run cold it gets -f 1; the reason quotes the warm attempt of
		// task 1, which got the driver instead.
		if strings.HasPrefix(l, "not really Blender") && strings.HasSuffix(l, " -f 1") {
			ran++
		}
	}
	if ran != 1 {
		t.Errorf("task 2 ran the stand-in cold %d times, want once:\n%s", ran, strings.Join(second.Lines, "\n"))
	}
}

// TestWarmInterleavedJobs renders tasks of two jobs in turn, A, B, A, B (two
// identities sharing the plugin, one task each at a time): each job keeps
// its warm Blender, so two tasks start one and two render warm. With room
// for one Blender only, each task stops the other job's, least recently
// used, and says so in its log. Jobs of one scene (one key) share one
// Blender: each takes the other's idle one over.
func TestWarmInterleavedJobs(t *testing.T) {
	blender := needBlender(t)
	isolateTemp(t)
	dir := t.TempDir()
	scene := makeWarmScene(t, blender, dir, "PNG")
	otherDir := filepath.Join(dir, "other")
	if err := os.MkdirAll(otherDir, 0o755); err != nil {
		t.Fatal(err)
	}
	other := makeWarmScene(t, blender, otherDir, "PNG")
	tests := []struct {
		name    string
		sceneB  string // job B's scene (job A's is scene)
		config  map[string]any
		modes   []string // of the tasks of A, B, A, B
		evicted []string // the job whose Blender each task stopped to make room, "" for none
	}{
		{"default", other, nil, []string{"new", "new", "warm", "warm"}, []string{"", "", "", ""}},
		{"room for one", other, map[string]any{"warm_max_sessions": 1}, []string{"new", "new", "new", "new"}, []string{"", "A", "B", "A"}},
		// One scene, one key: each job takes the other's idle Blender over.
		{"one scene", scene, map[string]any{"warm_max_sessions": 1}, []string{"new", "warm", "warm", "warm"}, []string{"", "", "", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPlugin(t)
			for i, job := range []string{"A", "B", "A", "B"} {
				jobScene := scene
				if job == "B" {
					jobScene = tt.sceneB
				}
				params := renderParams(jobScene, "--render-output", filepath.Join(dir, tt.name, job, "######"), "--render-format", "PNG", "--render-frame", strconv.Itoa(i+1))
				res := mustRender(t, p, params, sdktest.Options{Config: tt.config, JobID: job})
				what := fmt.Sprintf("task %d (job %s)", i+1, job)
				wantMode(t, what, res, tt.modes[i], "")
				var lines []string
				for _, l := range res.Lines {
					if strings.HasPrefix(l, "cajon-plugin-blender: stopped the warm Blender") {
						lines = append(lines, l)
					}
				}
				switch want := tt.evicted[i]; {
				case want == "" && len(lines) > 0:
					t.Errorf("%s stopped warm Blenders: %q", what, lines)
				case want != "" && (len(lines) != 1 || !strings.Contains(lines[0], "of job "+want+", least recently used, to make room: there were 1 ([plugins.blender] warm_max_sessions)")):
					t.Errorf("%s logs %q, want it stopping job %s's warm Blender to make room", what, lines, want)
				}
			}
		})
	}
}
