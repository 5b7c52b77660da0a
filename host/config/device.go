package config

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/cajonfarm/cajon/sdk/wire"
)

// gpuID is a GPU as the vendors' visibility variables name it: an index, or
// a UUID such as nvidia-smi -L prints ("GPU-8f6e...", "MIG-..."). No commas
// or spaces: the variables are comma-separated lists.
var gpuID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$`)

// gpuList reads an identity's gpu: an index, a UUID or a list of them, as
// text (indices in decimal). nil when it is not set.
func gpuList(v any) ([]string, error) {
	var items []any
	switch v := v.(type) {
	case nil:
		return nil, nil
	case []any:
		if len(v) == 0 {
			return nil, errors.New("an empty list; leave gpu out for an identity that sees every GPU")
		}
		items = v
	default:
		items = []any{v}
	}
	out := make([]string, 0, len(items))
	for _, item := range items {
		id, err := gpuItem(item)
		if err != nil {
			return nil, err
		}
		if slices.Contains(out, id) {
			return nil, fmt.Errorf("GPU %s is listed twice", id)
		}
		out = append(out, id)
	}
	return out, nil
}

// gpuItem is one GPU of the list, as text.
func gpuItem(v any) (string, error) {
	switch v := v.(type) {
	case int64:
		if v < 0 {
			return "", fmt.Errorf("GPU index %d is negative; indices count from 0, as nvidia-smi and rocm-smi number the GPUs", v)
		}
		return strconv.FormatInt(v, 10), nil
	case string:
		if !gpuID.MatchString(v) {
			return "", fmt.Errorf("GPU %q is neither an index nor a device UUID (letters, digits, '-', '_', '.', ':'; as nvidia-smi -L prints them)", v)
		}
		if n, err := strconv.ParseUint(v, 10, 31); err == nil {
			return strconv.FormatUint(n, 10), nil // "01" and 1 are one GPU
		}
		return v, nil
	}
	return "", fmt.Errorf(`must be a GPU index (gpu = 0), a device UUID (gpu = "GPU-...") or a list of them (gpu = [0, 1]), not %s`, tomlTypeName(v))
}

// tomlTypeName names the TOML type of a decoded value, for messages.
func tomlTypeName(v any) string {
	switch v.(type) {
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any:
		return "a nested list"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("a %T", v)
}

// isGPUIndex reports whether a gpu entry is an index rather than a UUID.
func isGPUIndex(id string) bool {
	_, err := strconv.ParseUint(id, 10, 31)
	return err == nil
}

// normalDevice spells a valid cycles_device as Blender does; an invalid one
// is kept for validateDevice to report.
func normalDevice(d string) string {
	if n, err := wire.CyclesDevice(d); err == nil && d != "" {
		return n
	}
	return d
}

// validateDevice checks an identity's gpu and cycles_device together: the
// device decides which variable hides the other GPUs.
func validateDevice(where string, id IdentityConfig) []error {
	var errs []error
	if v, ok := id.Env[wire.EnvCyclesDevice]; ok {
		// env wins over cycles_device (docs/CONFIG.md): a bad value would
		// fail every render of the identity.
		if _, err := wire.CyclesDevice(v); err != nil {
			errs = append(errs, fmt.Errorf("%s: env %s: %w", where, wire.EnvCyclesDevice, err))
		}
	}
	if id.CyclesDevice != "" {
		if _, err := wire.CyclesDevice(id.CyclesDevice); err != nil {
			errs = append(errs, fmt.Errorf("%s: cycles_device: %w", where, err))
			return errs
		}
	}
	if len(id.GPU) == 0 {
		return errs
	}
	gpu := wire.CyclesGPU(id.CyclesDevice)
	switch {
	case id.CyclesDevice == "":
		errs = append(errs, fmt.Errorf(`%s: gpu is set without cycles_device: set cycles_device too (e.g. "OPTIX" or "CUDA" for NVIDIA, "HIP" for AMD, "ONEAPI" for Intel), which says which variable shows the identity only GPU %s`, where, strings.Join(id.GPU, ", ")))
	case gpu == "":
		errs = append(errs, fmt.Errorf("%s: gpu is set but cycles_device is %s, which renders on no GPU: leave gpu out, or pick a GPU device", where, id.CyclesDevice))
	case gpu == "METAL":
		errs = append(errs, fmt.Errorf("%s: gpu is set with cycles_device METAL, but macOS has no variable that hides the other GPUs from a process: leave gpu out", where))
	case gpu == "ONEAPI":
		for _, g := range id.GPU {
			if !isGPUIndex(g) {
				errs = append(errs, fmt.Errorf("%s: gpu %q: with cycles_device ONEAPI a GPU must be an index (ONEAPI_DEVICE_SELECTOR takes Level Zero device indices, not UUIDs)", where, g))
			}
		}
	}
	return errs
}

// gpuValue is gpus as written in a file: indices as integers, UUIDs as
// strings.
func gpuValue(gpus []string) []any {
	out := make([]any, len(gpus))
	for i, g := range gpus {
		if n, err := strconv.ParseInt(g, 10, 64); err == nil && isGPUIndex(g) {
			out[i] = n
		} else {
			out[i] = g
		}
	}
	return out
}
