package main

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/sdk/sdktest"
)

func TestWithCyclesDevice(t *testing.T) {
	tests := []struct {
		name    string
		args    string // words split on spaces
		want    string
		dropped []string
	}{
		{"no Python section", "-b s.blend -f 1", "-b s.blend -f 1 -- --cycles-device CUDA", nil},
		{"nothing at all", "", "-- --cycles-device CUDA", nil},
		{"a Python section: ours at its end", "-b s.blend -f 1 -- --my-arg 3",
			"-b s.blend -f 1 -- --my-arg 3 --cycles-device CUDA", nil},
		{"an empty Python section", "-b s.blend -f 1 --", "-b s.blend -f 1 -- --cycles-device CUDA", nil},
		{"a second -- ends what argparse reads", "-b s.blend -- --my-arg -- pos1 pos2",
			"-b s.blend -- --my-arg --cycles-device CUDA -- pos1 pos2", nil},
		{"the task's own device is replaced", "-b s.blend -f 1 -- --cycles-device CPU --x",
			"-b s.blend -f 1 -- --x --cycles-device CUDA", []string{"--cycles-device CPU"}},
		{"with = and as a prefix", "-b s.blend -- --cycles-device=HIP --cycles-dev OPTIX",
			"-b s.blend -- --cycles-device CUDA", []string{"--cycles-device=HIP", "--cycles-dev OPTIX"}},
		{"before -- it would be read as a file", "-b s.blend --cycles-device CPU -f 1",
			"-b s.blend -f 1 -- --cycles-device CUDA", []string{"--cycles-device CPU"}},
		{"without a value", "-b s.blend -- --cycles-device --x", "-b s.blend -- --x --cycles-device CUDA", []string{"--cycles-device"}},
		{"after a second -- it is a script's word", "-b s.blend -- -- --cycles-device CPU",
			"-b s.blend -- --cycles-device CUDA -- --cycles-device CPU", nil},
		{"other Cycles options stay", "-b s.blend -- --cycles-print-stats --cycles-",
			"-b s.blend -- --cycles-print-stats --cycles- --cycles-device CUDA", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := strings.Fields(tt.args)
			orig := slices.Clone(args)
			got, dropped := withCyclesDevice(args, "CUDA")
			if strings.Join(got, " ") != tt.want {
				t.Errorf("args\n got %q\nwant %q", strings.Join(got, " "), tt.want)
			}
			if !slices.Equal(dropped, tt.dropped) {
				t.Errorf("dropped %q, want %q", dropped, tt.dropped)
			}
			if !slices.Equal(args, orig) {
				t.Errorf("the task's args changed: %q", args)
			}
		})
	}
}

// No GPU here: a GPU device makes Blender fail clearly ("Found no Cycles
// device of the specified type"), which proves the option reached Cycles;
// a hybrid one ("+CPU") renders on the CPU. Cold and warm alike.
func TestRenderOnTheIdentitysDevice(t *testing.T) {
	blender := needBlender(t)
	isolateTemp(t)
	dir := t.TempDir()
	scene := makeScene(t, blender, dir)
	out := filepath.Join(dir, "frames", "f-####")
	cold := map[string]any{"warm_sessions": false}
	tests := []struct {
		name   string
		env    map[string]string
		cfg    map[string]any
		args   []string
		status sdktest.Status
		lines  []string // in the log, in order
		msg    string   // in the failure message
	}{
		{name: "no device: as the scene says", env: map[string]string{"CUDA_VISIBLE_DEVICES": "1"}, cfg: cold,
			args:   []string{"-o", out, "-f", "1"},
			status: sdktest.Completed,
			lines:  []string{"cajon-plugin-blender: running ", "cajon-plugin-blender: Cycles device: as the blend file and Blender's preferences say (the worker identity sets no cycles_device); GPUs: CUDA_VISIBLE_DEVICES=1"}},
		{name: "CUDA without a GPU fails clearly", env: map[string]string{"CAJON_CYCLES_DEVICE": "CUDA", "CUDA_VISIBLE_DEVICES": "1"}, cfg: cold,
			args:   []string{"-o", out, "-f", "1"},
			status: sdktest.Failed,
			lines:  []string{"-f 1 -- --cycles-device CUDA", "cajon-plugin-blender: Cycles device: CUDA (the worker identity's cycles_device); GPUs: CUDA_VISIBLE_DEVICES=1"},
			msg:    "Found no Cycles device of the specified type"},
		{name: "hybrid renders on the CPU; the task's own device is left out", env: map[string]string{"CAJON_CYCLES_DEVICE": "OPTIX+CPU"}, cfg: cold,
			args:   []string{"-o", out, "-f", "2", "--", "--cycles-device", "CPU"},
			status: sdktest.Completed,
			lines:  []string{`the task's "--cycles-device CPU" is left out: this worker renders on OPTIX+CPU`, "-f 2 -- --cycles-device OPTIX+CPU", "Cycles device: OPTIX+CPU"}},
		{name: "CPU", env: map[string]string{"CAJON_CYCLES_DEVICE": "CPU", "CUDA_VISIBLE_DEVICES": "0"}, cfg: cold,
			args:   []string{"-o", out, "-f", "3"},
			status: sdktest.Completed,
			lines:  []string{"-f 3 -- --cycles-device CPU", "Cycles device: CPU (the worker identity's cycles_device); GPUs: none"}},
		{name: "a device Blender does not know", env: map[string]string{"CAJON_CYCLES_DEVICE": "RTX"}, cfg: cold,
			args:   []string{"-o", out, "-f", "1"},
			status: sdktest.Failed,
			msg:    `CAJON_CYCLES_DEVICE from the worker identity's environment: Cycles device "RTX" is not one Blender knows`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := sdktest.Run(t, testPlugin(t), "blender-render", renderParams(scene, tt.args...), sdktest.Options{Env: tt.env, Config: tt.cfg})
			log := strings.Join(res.Lines, "\n")
			if res.Status != tt.status || !strings.Contains(res.Message, tt.msg) {
				t.Fatalf("render %s: %q, want %s with %q\n%s", res.Status, res.Message, tt.status, tt.msg, log)
			}
			wantInOrder(t, log, tt.lines)
		})
	}
}

// wantInOrder fails the test unless each of want is in log, after the one
// before.
func wantInOrder(t *testing.T, log string, want []string) {
	t.Helper()
	rest := log
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Errorf("the log has no %q (after the lines before it)\n%s", w, log)
			return
		}
		rest = rest[i+len(w):]
	}
}

// A warm Blender starts with the device, and a session is only for tasks
// of the same device.
func TestWarmOnTheIdentitysDevice(t *testing.T) {
	blender := needBlender(t)
	isolateTemp(t)
	dir := t.TempDir()
	scene := makeScene(t, blender, dir)
	out := filepath.Join(dir, "frames", "f-####")
	p := testPlugin(t)
	hybrid := sdktest.Options{Env: map[string]string{"CAJON_CYCLES_DEVICE": "CUDA+CPU"}}
	first := mustRender(t, p, renderParams(scene, "-o", out, "-f", "1"), hybrid)
	wantMode(t, "the first task", first, "new", "")
	second := mustRender(t, p, renderParams(scene, "-o", out, "-f", "2"), hybrid)
	wantMode(t, "the second task", second, "warm", "")
	wantInOrder(t, strings.Join(second.Lines, "\n"), []string{"-f 2 -- --cycles-device CUDA+CPU", "Cycles device: CUDA+CPU (the worker identity's cycles_device)"})

	// Another device needs a Blender of its own: CUDA, which this machine
	// does not have, fails as it does cold.
	res := sdktest.Run(t, p, "blender-render", renderParams(scene, "-o", out, "-f", "3"),
		sdktest.Options{Env: map[string]string{"CAJON_CYCLES_DEVICE": "CUDA"}})
	log := strings.Join(res.Lines, "\n")
	if res.Status != sdktest.Failed || !strings.Contains(log+res.Message, "Found no Cycles device of the specified type") {
		t.Fatalf("render on CUDA %s: %q, want a failure saying Blender found no such device\n%s", res.Status, res.Message, log)
	}
	if m, why := mode(res); m == "warm" {
		t.Errorf("the CUDA task ran in the CUDA+CPU session: %s", why)
	}
	t.Logf("CUDA task's log:\n%s\nmessage: %s", log, res.Message)
}
