package metrics

import "strings"

// deviceInfoHelp describes cajon_worker_device_info.
const deviceInfoHelp = "Always 1, one series per worker identity: gpu is its gpu setting (indices or UUIDs, comma-separated; empty = every GPU; an env of the identity that sets the GPU variable itself wins, with a warning at start), cycles_device the Cycles device its Blender renders on (empty = the blend file's)."

// Device records the GPUs and Cycles device of the worker identity, as
// [[worker.identities]] gpu and cycles_device give them.
func (w *Worker) Device(gpus []string, cyclesDevice string) {
	w.m.deviceInfo.WithLabelValues(w.name, strings.Join(gpus, ","), cyclesDevice).Set(1)
}
