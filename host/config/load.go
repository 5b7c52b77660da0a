package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Load merges the layers of src over the defaults (files in order, then CAJON_*
// environment, then flags), fills in the computed default state directory and
// validates the result. An unset worker_name stays empty: the worker takes the host
// name when it starts (ManagerConfig.NameAtStart). Errors name the file, line, variable or flag and
// the key; every invalid value is reported, not just the first.
func Load(src Sources) (*Config, *Provenance, error) {
	cfg := Defaults()
	prov := newProvenance()
	if err := applyFiles(&cfg, prov, src.Files); err != nil {
		return nil, nil, err
	}
	errs := applyEnv(&cfg, prov, src.Environ)
	errs = append(errs, applyFlags(&cfg, prov, src.Flags)...)
	if len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	fillComputedDefaults(&cfg, prov, envLookup(src.Environ))
	if err := validate(&cfg, prov); err != nil {
		return nil, nil, err
	}
	return &cfg, prov, nil
}

// applyFiles reads the files in order; a missing optional file is skipped.
func applyFiles(cfg *Config, prov *Provenance, files []FileSource) error {
	for _, f := range files {
		data, err := os.ReadFile(f.Path)
		switch {
		case errors.Is(err, fs.ErrNotExist) && !f.Required:
			continue
		case errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("config file %s does not exist: %w", f.Path, err)
		case err != nil:
			return fmt.Errorf("read config file %s: %w", f.Path, err)
		}
		l, err := decodeFile(f.Path, data)
		if err != nil {
			return err
		}
		l.apply(cfg, prov, originFile(f.Path))
		prov.files = append(prov.files, f.Path)
	}
	return nil
}

// applyEnv applies the CAJON_* variables of environ and records warnings about
// unknown ones. It returns one error per unparsable value.
func applyEnv(cfg *Config, prov *Provenance, environ []string) []error {
	var errs []error
	values, warnings := envLayer(environ)
	prov.warnings = append(prov.warnings, warnings...)
	for _, v := range values {
		if err := setRaw(cfg, v.key, v.value); err != nil {
			errs = append(errs, fmt.Errorf("environment %s=%q: %w", v.name, v.value, err))
			continue
		}
		prov.set(v.key, originEnv(v.name))
	}
	return errs
}

// applyFlags applies the flags, in key order. It returns one error per unknown key
// or unparsable value.
func applyFlags(cfg *Config, prov *Provenance, flags map[string]string) []error {
	var errs []error
	for _, key := range sortedKeys(flags) {
		if _, ok := lookupSetting(key); !ok {
			errs = append(errs, fmt.Errorf("flag: unknown config key %q%s", key, suggestion(key, Keys())))
			continue
		}
		if err := setRaw(cfg, key, flags[key]); err != nil {
			errs = append(errs, fmt.Errorf("flag %s=%q: %w", key, flags[key], err))
			continue
		}
		prov.set(key, originFlag)
	}
	return errs
}

// fillComputedDefaults sets the defaults that depend on the machine, when no layer
// set a value (or a layer set it empty).
func fillComputedDefaults(cfg *Config, prov *Provenance, getenv func(string) string) {
	if cfg.StateDir == "" {
		cfg.StateDir = defaultStateDir(runtime.GOOS, isRoot(), getenv)
		prov.set("state_dir", originDefault)
	}
	// The stock worker's variable, below every Cajon layer as it is below
	// the stock worker's worker_name, so a node set up for flamenco-worker
	// keeps its name.
	if name := strings.TrimSpace(getenv(StockWorkerNameVar)); cfg.Manager.WorkerName == "" && name != "" {
		cfg.Manager.WorkerName = name
		prov.set("manager.worker_name", originEnv(StockWorkerNameVar))
	}
}

// StockWorkerNameVar names the worker as the stock flamenco-worker reads it:
// below worker_name, above the host name.
const StockWorkerNameVar = "FLAMENCO_WORKER_NAME"

// layer is what one source sets: typed values by key, plus plugin tables.
type layer struct {
	values  map[string]any
	plugins map[string]map[string]any
	// identities replace the earlier [[worker.identities]] when not nil.
	identities []IdentityConfig
}

// apply writes the layer over cfg and records origin for each key it sets. Plugin
// tables merge key by key: a later layer replaces single keys of a plugin's table.
func (l layer) apply(cfg *Config, prov *Provenance, origin string) {
	for _, key := range sortedKeys(l.values) {
		assign(cfg, key, l.values[key])
		prov.set(key, origin)
	}
	if l.identities != nil {
		cfg.Worker.Identities = l.identities
		prov.set(identitiesKey, origin)
	}
	for _, name := range sortedKeys(l.plugins) {
		table := cfg.Plugins[name]
		if table == nil {
			table = map[string]any{}
			cfg.Plugins[name] = table
		}
		for k, v := range l.plugins[name] {
			table[k] = v
			prov.set(pluginKey(name, k), origin)
		}
	}
}

// assign sets key to value; value has the field's exact type (guaranteed by the
// decoders, so a mismatch is a bug here and panics).
func assign(cfg *Config, key string, value any) {
	s, ok := lookupSetting(key)
	if !ok {
		panic("config: assign to unknown key " + key)
	}
	if list, ok := value.([]string); ok && list == nil {
		value = []string{} // keep "empty" one value, so configs compare equal
	}
	reflect.ValueOf(s.field(cfg)).Elem().Set(reflect.ValueOf(value))
}

// setRaw parses an environment or flag value for key and sets it.
func setRaw(cfg *Config, key, raw string) error {
	s, ok := lookupSetting(key)
	if !ok {
		return fmt.Errorf("unknown config key %q", key)
	}
	var value any
	switch s.field(cfg).(type) {
	case *string:
		value = raw
	case *int:
		n, err := strconv.Atoi(strings.TrimSpace(raw))
		if err != nil {
			return fmt.Errorf("%s must be %s", key, expectedType(key))
		}
		value = n
	case *int64:
		n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
		if err != nil {
			return fmt.Errorf("%s must be %s", key, expectedType(key))
		}
		value = n
	case *bool:
		b, err := strconv.ParseBool(strings.TrimSpace(raw))
		if err != nil {
			return fmt.Errorf("%s must be true or false", key)
		}
		value = b
	case *[]string:
		value = splitList(raw)
	case *time.Duration:
		d, err := time.ParseDuration(strings.TrimSpace(raw))
		if err != nil {
			return fmt.Errorf("%s must be %s", key, expectedType(key))
		}
		value = d
	}
	assign(cfg, key, value)
	return nil
}

// splitList reads a list from an environment or flag value: comma-separated, spaces
// around items trimmed, empty items dropped ("" is the empty list).
func splitList(raw string) []string {
	items := []string{}
	for _, item := range strings.Split(raw, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}

// envValue is one CAJON_* variable that sets a key.
type envValue struct {
	name, key, value string
}

// envLayer picks the CAJON_* settings out of environ, in key order; a later entry
// of the same name wins. Unknown CAJON_* names become warnings.
func envLayer(environ []string) ([]envValue, []string) {
	byName := map[string]string{}
	for _, key := range Keys() {
		byName[EnvVar(key)] = key
	}
	found := map[string]envValue{}
	var unknown []string
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if runtime.GOOS == "windows" {
			name = strings.ToUpper(name) // Windows variable names ignore case
		}
		if !ok || !strings.HasPrefix(name, envPrefix) || isInternalEnvVar(name) {
			continue
		}
		key, ok := byName[name]
		if !ok {
			if !slices.Contains(unknown, name) {
				unknown = append(unknown, name)
			}
			continue
		}
		found[name] = envValue{name: name, key: key, value: value}
	}
	var values []envValue
	for _, name := range sortedKeys(found) {
		values = append(values, found[name])
	}
	sort.Strings(unknown)
	var warnings []string
	for _, name := range unknown {
		warnings = append(warnings, fmt.Sprintf("environment variable %s is not a cajon setting; ignored%s",
			name, suggestion(name, sortedKeys(byName))))
	}
	return values, warnings
}

// suggestion is a " (did you mean ...?)" hint for a mistyped name, or "".
func suggestion(name string, known []string) string {
	if near := closestKey(name, known); near != "" {
		return fmt.Sprintf(" (did you mean %q?)", near)
	}
	return ""
}
