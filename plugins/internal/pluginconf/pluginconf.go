// Package pluginconf decodes a render plugin's [plugins.<name>] table from
// cajon.toml strictly: a key the plugin does not know is an error naming it,
// as everywhere else in cajon.toml, because it is usually a typo.
package pluginconf

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// Source gives the plugin's config table; *sdk.Run is one.
type Source interface {
	PluginConfig(v any) error
}

// Decode fills v, a pointer to a struct with `json` tags and its defaults
// already set, from the [plugins.<plugin>] table. Keys absent from the
// table keep their defaults.
func Decode(src Source, plugin string, v any) error {
	var raw map[string]any
	if err := src.PluginConfig(&raw); err != nil {
		return fmt.Errorf("[plugins.%s] in cajon.toml: %w", plugin, err)
	}
	known := keys(v)
	var unknown []string
	for k := range raw {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		names := make([]string, 0, len(known))
		for k := range known {
			names = append(names, k)
		}
		sort.Strings(names)
		return fmt.Errorf("[plugins.%s] in cajon.toml: unknown key %s (known keys: %s)",
			plugin, strings.Join(unknown, ", "), strings.Join(names, ", "))
	}
	if err := src.PluginConfig(v); err != nil {
		return fmt.Errorf("[plugins.%s] in cajon.toml: %w", plugin, err)
	}
	return nil
}

// keys are the json names of the fields of the struct v points to.
func keys(v any) map[string]bool {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	out := map[string]bool{}
	if t.Kind() != reflect.Struct {
		return out
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		out[name] = true
	}
	return out
}
