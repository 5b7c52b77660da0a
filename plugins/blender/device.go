package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/cajonfarm/cajon/sdk"
	"github.com/cajonfarm/cajon/sdk/wire"
)

// The Cycles device comes from the host, in the environment it gives the
// commands of a worker identity (wire.EnvCyclesDevice, from cajon.toml),
// not from the task's parameters: the Manager's parameters choose what to
// render, the worker's own configuration what hardware renders it.

// cyclesDeviceOption is Blender's own option, read by the Cycles add-on from
// the arguments after "--" when it starts; it overrides the preferences and
// the scene, and --factory-startup does not reset it.
const cyclesDeviceOption = "--cycles-device"

// lookupEnv finds a variable as a command of run sees it: the run's
// environment over the plugin's own.
func lookupEnv(run *sdk.Run, name string) (string, bool) {
	if v, ok := run.Env[name]; ok {
		return v, true
	}
	return os.LookupEnv(name)
}

// cyclesDevice is the Cycles device run must render on, "" when the
// identity sets none.
func cyclesDevice(run *sdk.Run) (string, error) {
	v, ok := lookupEnv(run, wire.EnvCyclesDevice)
	if !ok || v == "" {
		return "", nil
	}
	d, err := wire.CyclesDevice(v)
	if err != nil {
		return "", fmt.Errorf("%s from the worker identity's environment: %w (see cycles_device in [[worker.identities]], docs/CONFIG.md)", wire.EnvCyclesDevice, err)
	}
	return d, nil
}

// deviceLine says, for the task log, which device and GPUs a render uses.
func deviceLine(run *sdk.Run, device string) string {
	var gpus []string
	seen := map[string]bool{}
	for _, d := range wire.CyclesDevices() {
		if v := wire.GPUVisibilityVar(d); v != "" && !seen[v] {
			seen[v] = true
			if val, ok := lookupEnv(run, v); ok {
				gpus = append(gpus, v+"="+val)
			}
		}
	}
	gpu := "every GPU Blender finds"
	if len(gpus) > 0 {
		gpu = strings.Join(gpus, ", ")
	}
	if device == "" {
		return "cajon-plugin-blender: Cycles device: as the blend file and Blender's preferences say (the worker identity sets no cycles_device); GPUs: " + gpu
	}
	if wire.CyclesGPU(device) == "" {
		gpu = "none"
	}
	return fmt.Sprintf("cajon-plugin-blender: Cycles device: %s (the worker identity's cycles_device); GPUs: %s", device, gpu)
}

// logDevice names the device and GPUs of a render in its task log, after
// its command line.
func logDevice(run *sdk.Run) {
	dev, _ := cyclesDevice(run) // checked by onDevice before the render
	run.Log(deviceLine(run, dev))
}

// withCyclesDevice returns args with "--cycles-device device" where the
// Cycles add-on reads it: after the first "--" (Blender passes what follows
// to Python) and before a second one (Python's argparse, which Cycles uses,
// reads no option past it), at the end of the options there so that
// scripts reading their arguments by position keep them. A --cycles-device
// the task gave itself is dropped, wherever it is, and returned: the
// identity's device wins, and one before "--" would make Blender look for
// a blend file of that name.
func withCyclesDevice(args []string, device string) (out, dropped []string) {
	out = make([]string, 0, len(args)+3)
	py, stop := -1, -1 // in out: the first "--", the second
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			if py < 0 {
				py = len(out)
			} else if stop < 0 {
				stop = len(out)
			}
		}
		name, _, eq := strings.Cut(a, "=")
		if stop >= 0 || !isCyclesDeviceOption(name) {
			out = append(out, a)
			continue
		}
		if !eq && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			a += " " + args[i+1]
			i++
		}
		dropped = append(dropped, a)
	}
	ours := []string{cyclesDeviceOption, device}
	switch {
	case py < 0:
		return append(append(out, "--"), ours...), dropped
	case stop < 0:
		return append(out, ours...), dropped
	}
	return append(out[:stop:stop], append(ours, out[stop:]...)...), dropped
}

// isCyclesDeviceOption reports whether name means --cycles-device to
// Python's argparse, which also takes an unambiguous prefix of an option
// ("--cycles-dev").
func isCyclesDeviceOption(name string) bool {
	return len(name) >= len("--cycles-d") && strings.HasPrefix(cyclesDeviceOption, name)
}

// onDevice puts the worker identity's Cycles device on a render's command
// line.
func (r *Render) onDevice(run *sdk.Run, args []string) ([]string, error) {
	dev, err := cyclesDevice(run)
	if err != nil {
		return nil, err
	}
	r.device = dev
	if dev == "" {
		return args, nil
	}
	args, dropped := withCyclesDevice(args, dev)
	for _, d := range dropped {
		run.Logf("cajon-plugin-blender: the task's %q is left out: this worker renders on %s", d, dev)
	}
	return args, nil
}

// onDevice makes a warm task render on device. Cycles reads the device once,
// when its Blender starts, so the session starts with it and only tasks of
// the same device share a session.
func (wt warmTask) onDevice(device string) warmTask {
	if device == "" {
		return wt
	}
	wt.key += " " + device
	wt.device = device
	// sys.argv of the task's scripts: as a cold Blender's command line has it.
	args, _ := withCyclesDevice(wt.argv[1:], device)
	wt.argv = append([]string{wt.argv[0]}, args...)
	return wt
}
