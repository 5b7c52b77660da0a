package config

import (
	"fmt"
	"slices"
	"strings"
)

// WorkerConfig is the [worker] table: the worker identities of one process.
type WorkerConfig struct {
	// Identities, when not empty, make `cajon run` work as that many
	// Flamenco workers in one process ([[worker.identities]]), sharing the
	// plugins; empty runs one worker named manager.worker_name.
	Identities []IdentityConfig
}

// IdentityConfig is one [[worker.identities]] table.
type IdentityConfig struct {
	// Name in the Manager; empty = <worker_name>-<n>, n counting from 1 in
	// file order.
	Name string
	// Env is added to the environment of this identity's commands, e.g.
	// CUDA_VISIBLE_DEVICES.
	Env map[string]string
	// TaskTypes narrows the task types this identity asks for; empty = the
	// top-level task_types.
	TaskTypes []string
	// GPU lists the GPUs this identity's commands may see: device indices
	// (as decimal text) or device UUIDs; empty = every GPU.
	GPU []string
	// CyclesDevice is the Cycles device its Blender renders on, as Blender
	// spells it (wire.CyclesDevice); "" = what the blend file says.
	CyclesDevice string
	// MaxTaskMemory caps the resident memory of each of this identity's
	// commands, in bytes; 0 = the top-level max_task_memory.
	MaxTaskMemory int64
}

// identitiesKey is the provenance key of [[worker.identities]]: the list is
// one value (a later layer replaces it whole, as TOML arrays go).
const identitiesKey = "worker.identities"

// fileWorker is the [worker] table of a file.
type fileWorker struct {
	Identities *[]fileIdentity `toml:"identities"`
}

type fileIdentity struct {
	Name      string            `toml:"name"`
	Env       map[string]string `toml:"env"`
	TaskTypes []string          `toml:"task_types"`
	// GPU is an index, a UUID or a list of them: decoded loosely and
	// checked by gpuList, so that each form gets a clear message.
	GPU           any    `toml:"gpu"`
	CyclesDevice  string `toml:"cycles_device"`
	MaxTaskMemory int64  `toml:"max_task_memory"`
}

// identitiesOf converts a file's [[worker.identities]]; nil when the file
// has none.
func identitiesOf(w fileWorker) ([]IdentityConfig, error) {
	if w.Identities == nil {
		return nil, nil
	}
	out := make([]IdentityConfig, 0, len(*w.Identities))
	for i, id := range *w.Identities {
		gpus, err := gpuList(id.GPU)
		if err != nil {
			return nil, fmt.Errorf("worker.identities[%d]: gpu: %w", i+1, err)
		}
		out = append(out, normalIdentity(IdentityConfig{Name: id.Name, Env: id.Env, TaskTypes: id.TaskTypes,
			GPU: gpus, CyclesDevice: normalDevice(id.CyclesDevice), MaxTaskMemory: id.MaxTaskMemory}))
	}
	return out, nil
}

// normalIdentity gives empty maps and lists one form, so configs compare equal.
func normalIdentity(id IdentityConfig) IdentityConfig {
	if id.Env == nil {
		id.Env = map[string]string{}
	}
	if id.TaskTypes == nil {
		id.TaskTypes = []string{}
	}
	if id.GPU == nil {
		id.GPU = []string{}
	}
	return id
}

// validateIdentities checks [[worker.identities]].
func validateIdentities(cfg *Config, prov *Provenance) []error {
	var errs []error
	origin := prov.Of(identitiesKey)
	names := map[string]int{}
	for i, id := range cfg.Worker.Identities {
		where := fmt.Sprintf("worker.identities[%d] (%s)", i+1, origin)
		if id.Name != "" {
			if first, dup := names[id.Name]; dup {
				errs = append(errs, fmt.Errorf("%s: name %q is also the name of identity %d; each identity needs its own", where, id.Name, first))
			}
			names[id.Name] = i + 1
			if strings.TrimSpace(id.Name) != id.Name {
				errs = append(errs, fmt.Errorf("%s: name %q has spaces around it", where, id.Name))
			}
		}
		for _, k := range sortedKeys(id.Env) {
			if k == "" || strings.ContainsAny(k, "=\x00") {
				errs = append(errs, fmt.Errorf("%s: env has the variable name %q; a name must not be empty or hold = or NUL", where, k))
			}
			if strings.ContainsRune(id.Env[k], 0) {
				errs = append(errs, fmt.Errorf("%s: env %s holds a NUL byte", where, k))
			}
		}
		if slices.Contains(id.TaskTypes, "") {
			errs = append(errs, fmt.Errorf("%s: task_types has an empty task type", where))
		}
		errs = append(errs, validateDevice(where, id)...)
		if id.MaxTaskMemory < 0 {
			errs = append(errs, fmt.Errorf("%s: max_task_memory = %d must be 0 (the top-level max_task_memory) or more", where, id.MaxTaskMemory))
		}
	}
	return errs
}

// printIdentities writes [[worker.identities]], with their origin as a
// comment when p is not nil.
func printIdentities(out *strings.Builder, ids []IdentityConfig, p *Provenance) error {
	for _, id := range ids {
		out.WriteString("\n[[worker.identities]]")
		if p != nil {
			out.WriteString("  # " + p.Of(identitiesKey))
		}
		out.WriteString("\n")
		if id.Name != "" {
			if err := writeLine(out, "name", id.Name, ""); err != nil {
				return err
			}
		}
		if len(id.Env) > 0 {
			if err := writeLine(out, "env", id.Env, ""); err != nil {
				return err
			}
		}
		if len(id.TaskTypes) > 0 {
			if err := writeLine(out, "task_types", id.TaskTypes, ""); err != nil {
				return err
			}
		}
		if len(id.GPU) > 0 {
			if err := writeLine(out, "gpu", gpuValue(id.GPU), ""); err != nil {
				return err
			}
		}
		if id.CyclesDevice != "" {
			if err := writeLine(out, "cycles_device", id.CyclesDevice, ""); err != nil {
				return err
			}
		}
		if id.MaxTaskMemory != 0 {
			if err := writeLine(out, "max_task_memory", id.MaxTaskMemory, ""); err != nil {
				return err
			}
		}
	}
	return nil
}
