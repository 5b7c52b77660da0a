package wire

import (
	"fmt"
	"strings"
)

// EnvCyclesDevice is the environment variable through which the host tells
// the commands of a worker identity which Cycles device it renders on, as
// the identity's cycles_device in cajon.toml says (one of CyclesDevices,
// possibly with "+CPU"). The host sets it from its own configuration only,
// never from a task's parameters, so a plugin may trust it as it trusts
// the rest of its environment. The blender plugin turns it into Blender's
// "-- --cycles-device <device>"; other plugins may read it too.
const EnvCyclesDevice = "CAJON_CYCLES_DEVICE"

// CyclesDevices are the device types Blender's --cycles-device takes.
func CyclesDevices() []string { return []string{"CPU", "CUDA", "OPTIX", "HIP", "ONEAPI", "METAL"} }

// hybridSuffix makes a GPU device render with the CPU as well (Cycles'
// hybrid rendering), e.g. "CUDA+CPU".
const hybridSuffix = "+CPU"

// CyclesDevice checks a Cycles device name and returns it as Blender spells
// it (upper case: Blender ignores "cuda" and renders on whatever the scene
// says). A GPU type may end in "+CPU" for hybrid rendering.
func CyclesDevice(name string) (string, error) {
	up := strings.ToUpper(strings.TrimSpace(name))
	gpu, hybrid := strings.CutSuffix(up, hybridSuffix)
	for _, d := range CyclesDevices() {
		if gpu == d && !(hybrid && d == "CPU") {
			return up, nil
		}
	}
	return "", fmt.Errorf("Cycles device %q is not one Blender knows: use one of %s, or a GPU type with %q for hybrid rendering (e.g. \"CUDA+CPU\")",
		name, strings.Join(CyclesDevices(), ", "), hybridSuffix)
}

// CyclesGPU is the GPU type of a Cycles device ("CUDA" for "CUDA+CPU"), ""
// for the CPU. device must have passed CyclesDevice.
func CyclesGPU(device string) string {
	gpu, _ := strings.CutSuffix(device, hybridSuffix)
	if gpu == "CPU" {
		return ""
	}
	return gpu
}

// GPUVisibilityVar is the variable through which the runtime of a Cycles
// device's GPUs shows a process only some of them: CUDA_VISIBLE_DEVICES for
// CUDA and OPTIX, HIP_VISIBLE_DEVICES for HIP, ONEAPI_DEVICE_SELECTOR for
// ONEAPI; "" for CPU and METAL, which have none.
func GPUVisibilityVar(device string) string {
	switch CyclesGPU(device) {
	case "CUDA", "OPTIX":
		return "CUDA_VISIBLE_DEVICES"
	case "HIP":
		return "HIP_VISIBLE_DEVICES"
	case "ONEAPI":
		return "ONEAPI_DEVICE_SELECTOR"
	}
	return ""
}
