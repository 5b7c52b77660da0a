package identities

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/cajonfarm/cajon/sdk/wire"
)

// envCUDAOrder is how CUDA numbers the GPUs.
const envCUDAOrder = "CUDA_DEVICE_ORDER"

// DeviceEnv is the environment that gives an identity's commands its GPUs
// and its Cycles device (wire.EnvCyclesDevice). gpus and device must have
// passed the config's checks. CPU and METAL hide no GPU: --cycles-device CPU
// already keeps Blender off them, and macOS has no such variable.
func DeviceEnv(gpus []string, device string) map[string]string {
	env := map[string]string{}
	if device == "" {
		return env
	}
	env[wire.EnvCyclesDevice] = device
	if len(gpus) == 0 {
		return env
	}
	// Cycles renders on every GPU it sees, so the GPU runtime's own
	// variable is how an identity gets only its own.
	list := strings.Join(gpus, ",")
	switch wire.CyclesGPU(device) {
	case "CUDA", "OPTIX":
		// CUDA numbers the GPUs fastest first unless told otherwise;
		// in bus order its indices are the ones nvidia-smi shows.
		env[envCUDAOrder] = "PCI_BUS_ID"
	case "ONEAPI":
		// Cycles renders on oneAPI through Level Zero.
		list = "level_zero:" + list
	}
	if v := wire.GPUVisibilityVar(device); v != "" {
		env[v] = list
	}
	return env
}

// mergeEnv adds the identity's own env to the one its device gives: the
// env an admin wrote wins, as the more specific setting. conflicts says,
// for each variable both set differently, which value is used.
func mergeEnv(device, explicit map[string]string) (env map[string]string, conflicts []string) {
	env = maps.Clone(device)
	for _, k := range slices.Sorted(maps.Keys(explicit)) {
		if d, ok := device[k]; ok && d != explicit[k] {
			conflicts = append(conflicts, fmt.Sprintf("env sets %s=%q, but gpu and cycles_device give %q: the identity's env wins", k, explicit[k], d))
		}
		env[k] = explicit[k]
	}
	return env, conflicts
}
