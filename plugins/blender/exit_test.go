package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/sdk/sdktest"
)

// The exit timeout starts once Blender is through with the last frame
// asked for: after its Time line (not at its Saved line, the frame's
// saving time comes after), and only when every frame was saved.
func TestThroughAllFrames(t *testing.T) {
	const (
		fra    = "Fra:1 Mem:10.02M (Peak 10.83M) | Time:00:00.31 | Mem:0.84M, Peak:0.84M | Scene, ViewLayer | Finished"
		fra2   = "Fra:2 Mem:10.02M (Peak 10.83M) | Time:00:00.31 | Mem:0.84M, Peak:0.84M | Scene, ViewLayer | Finished"
		saved1 = "Saved: '/r/0001.png'"
		saved2 = "Saved: '/r/0002.png'"
		tm     = " Time: 00:00.75 (Saving: 00:00.44)"
	)
	tests := []struct {
		name  string
		total int64
		lines []string
		at    int // index of the line after which the render is through; -1 never
	}{
		{"one frame", 1, []string{fra, saved1, tm, "", "Blender quit"}, 2},
		{"two frames", 2, []string{fra, saved1, tm, fra2, saved2, tm}, 5},
		{"stereo: two Saved lines, one frame", 1, []string{fra, "Saved: '/r/0001_L.png'", "Saved: '/r/0001_R.png'", tm}, 3},
		{"a save that failed", 1, []string{fra, "Error: Cannot save /r/0001.png", tm}, -1},
		{"frames not counted (-a)", 0, []string{fra, saved1, tm}, -1},
		{"skipped existing frames", 2, []string{`skipping existing frame "/r/0001.png"`, `skipping existing frame "/r/0002.png"`}, 1},
		{"Blender 5", 1, []string{"00:00.327  render           | Fra: 1 | Mem: 1699M | Sample 1/1",
			"00:00.327  render           | Saved: '/tmp/0001.png'", "00:00.339  render           | Time: 00:00.34 (Saving: 00:00.01)"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tr tracker
			got := -1
			for i, l := range tt.lines {
				if tr.throughAll(tr.feed(l), tt.total) && got < 0 {
					got = i
				}
			}
			if got != tt.at {
				t.Errorf("through after line %d, want %d", got, tt.at)
			}
		})
	}
}

// TestExitTimeout: a Blender that saved every frame and then does not quit
// (Flamenco's FAQ: an add-on keeps it from quitting) is ended after
// exit_timeout, and the task completes with a warning; the same for a warm
// Blender that does not answer after its frames, which is not used again.
func TestExitTimeout(t *testing.T) {
	blender := needBlender(t)
	isolateTemp(t)
	dir := t.TempDir()
	scene := makeWarmScene(t, blender, dir, "PNG")
	hang := map[string]string{"CAJON_TEST_HOOK": "hang"} // the scene's hook hangs after the render
	tests := []struct {
		name   string
		params map[string]any
		env    map[string]string
		config map[string]any
		mode   string
		warn   string // the one warning; "" = none
		logged string // a line of the log has it
	}{
		{name: "cold, atexit (the FAQ's case)",
			params: renderParams(scene, "--python-expr", "import atexit, time; atexit.register(lambda: time.sleep(3600))", "-o", filepath.Join(dir, "atexit", "####"), "-f", "1"),
			config: map[string]any{"warm_sessions": false},
			mode:   "cold", warn: "did not exit within 2s after its last frame ([plugins.blender] exit_timeout)"},
		// The driver runs the functions a task's script registered with
		// atexit at the end of the task, as a cold Blender's exit does.
		{name: "warm, atexit",
			params: renderParams(scene, "--python-expr", "import atexit, time; atexit.register(lambda: time.sleep(3600))", "-o", filepath.Join(dir, "atexit-warm", "####"), "-f", "1"),
			mode:   "new", warn: "did not answer within 2s after its last frame ([plugins.blender] exit_timeout)"},
		{name: "cold, render_complete handler",
			params: renderParams(scene, "-o", filepath.Join(dir, "handler-cold", "####"), "-f", "1"), env: hang,
			config: map[string]any{"warm_sessions": false},
			mode:   "cold", warn: "did not exit within 2s after its last frame ([plugins.blender] exit_timeout)"},
		{name: "warm, render_complete handler",
			params: renderParams(scene, "-o", filepath.Join(dir, "handler-warm", "####"), "-f", "1"), env: hang,
			mode: "new", warn: "did not answer within 2s after its last frame ([plugins.blender] exit_timeout)"},
		// A script after the frames is work of the task, not a hang: it
		// runs past exit_timeout and Blender then exits by itself.
		{name: "cold, a script after the frames",
			params: renderParams(scene, "-o", filepath.Join(dir, "script", "####"), "-f", "1", "--python-expr", "import time; time.sleep(3)"),
			config: map[string]any{"warm_sessions": false},
			mode:   "cold", logged: "exit_timeout does not apply to this task: its --python-expr after the last frame runs once the frames are saved"},
		{name: "warm, a script after the frames",
			params: renderParams(scene, "-o", filepath.Join(dir, "script-warm", "####"), "-f", "1", "--python-expr", "import time; time.sleep(3)"),
			mode:   "new", logged: "exit_timeout does not apply to this task: its --python-expr after the last frame runs once the frames are saved"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := map[string]any{"exit_timeout": "2s"}
			for k, v := range tt.config {
				cfg[k] = v
			}
			p := testPlugin(t)
			res := mustRender(t, p, tt.params, sdktest.Options{Env: tt.env, Config: cfg})
			log := strings.Join(res.Lines, "\n")
			wantMode(t, "the task", res, tt.mode, "")
			switch {
			case tt.warn == "" && len(res.Warnings) > 0:
				t.Errorf("warnings %q, want none\n%s", res.Warnings, log)
			case tt.warn != "" && (len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], tt.warn)):
				t.Errorf("warnings %q, want one saying %q\n%s", res.Warnings, tt.warn, log)
			case len(res.Warnings) > 0 && !slices.Contains(res.Lines, "WARNING: "+res.Warnings[0]):
				t.Errorf("the task log lacks the warning:\n%s", log)
			}
			if tt.logged != "" && !strings.Contains(log, tt.logged) {
				t.Errorf("no line of the log says %q:\n%s", tt.logged, log)
			}
			args := tt.params["args"].([]any)
			frame := strings.Replace(args[slices.Index(args, any("-o"))+1].(string), "####", "0001", 1) + ".png"
			if _, err := os.Stat(frame); err != nil {
				t.Errorf("the frame is not on disk: %v", err)
			}
			// A warm Blender that answered stays for the next task.
			hung := tt.mode != "new" || tt.warn != ""
			for _, pid := range res.Children {
				if hung && alive(pid) {
					t.Errorf("Blender (pid %d) still runs after its task ended", pid)
				}
			}
			if tt.mode != "new" || tt.warn == "" {
				return
			}
			// The hung warm Blender is not reused: the next task starts
			// another, saying why.
			next := mustRender(t, p, renderParams(scene, "-o", filepath.Join(dir, "next", "####"), "-f", "2"), sdktest.Options{Config: cfg})
			wantMode(t, "the next task", next, "new", "it did not answer within 2s after its task's last frame")
		})
	}
}

func TestWithoutCanceled(t *testing.T) {
	canceled := fmt.Errorf("run blender: canceled: %w", context.Canceled)
	survived := errors.New("run blender: 1 process survived SIGKILL")
	tests := []struct {
		name string
		err  error
		want string // "" = nil
	}{
		{"nil", nil, ""},
		{"canceled", canceled, ""},
		{"joined canceled", errors.Join(canceled), ""},
		{"joined with another", errors.Join(canceled, survived), survived.Error()},
		{"another", survived, survived.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := withoutCanceled(tt.err)
			if (got == nil) != (tt.want == "") || got != nil && got.Error() != tt.want {
				t.Errorf("withoutCanceled(%v) = %v, want %q", tt.err, got, tt.want)
			}
		})
	}
}
