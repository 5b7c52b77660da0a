package plugins

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/cajonfarm/cajon/host/suggest"
	pluginv1 "github.com/cajonfarm/cajon/sdk/proto/cajon/plugin/v1"
	"github.com/cajonfarm/cajon/sdk/wire"
)

// CheckConfig checks the [plugins.<name>] tables of cajon.toml
// (Options.Config) against the plugins found, so that a mistake shows when
// the worker starts instead of failing every task:
//
//   - a table for a plugin that was not found is an error naming the
//     plugins that were (a typo in its name would otherwise be ignored);
//   - the table of a plugin that declares a config schema must fit it
//     (ConfigProblems);
//   - the table of a plugin that declares none (one built before the
//     negotiation) is passed on unchecked, as before, with a note in the log.
//
// A plugin that was found but left out (refused, or it failed to start) is
// not judged: its note already says why it does not run. The error holds
// one line per problem, after a headline; nil when every table fits.
func (r *Registry) CheckConfig() error {
	var problems []string
	for _, name := range slices.Sorted(maps.Keys(r.opts.Config)) {
		table := r.opts.Config[name]
		if !slices.Contains(r.found, name) {
			problems = append(problems, unknownTable(name, r.found))
			continue
		}
		p, ok := r.plugins[name]
		if !ok {
			continue
		}
		schema := p.describe().GetConfigSchema()
		if schema == nil {
			if len(table) > 0 {
				r.log.Info(fmt.Sprintf("plugin %s declares no config schema (it was built before plugins could): its [plugins.%s] table is passed on unchecked", name, name))
			}
			continue
		}
		problems = append(problems, ConfigProblems(name, schema, table)...)
	}
	// A plugin with a schema and no table at all may still need a key.
	for _, name := range slices.Sorted(maps.Keys(r.plugins)) {
		if _, has := r.opts.Config[name]; !has {
			problems = append(problems, ConfigProblems(name, r.plugins[name].describe().GetConfigSchema(), nil)...)
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return errors.New("the [plugins.*] tables of cajon.toml do not fit the plugins:\n  " + strings.Join(problems, "\n  "))
}

// unknownTable is the problem of a [plugins.<name>] table without a plugin.
func unknownTable(name string, found []string) string {
	list := "none at all"
	if len(found) > 0 {
		list = strings.Join(found, ", ")
	}
	msg := fmt.Sprintf("[plugins.%s] in cajon.toml: there is no plugin %s (no %s%s in the plugin folders; found: %s)", name, name, BinaryPrefix, name, list)
	if near := suggest.Closest(name, found); near != "" {
		msg += fmt.Sprintf(": did you mean [plugins.%s]?", near)
	}
	return msg
}

// ConfigProblems checks one plugin's [plugins.<name>] table against the
// config schema it declared, as a command's parameters are checked
// (wire.CheckValue): a key the schema does not list, a value of the wrong
// type, a required key that is missing. Each problem names the table and
// the key, and says what is accepted or expected. A nil schema (the plugin
// declares none) accepts any table.
func ConfigProblems(plugin string, schema *pluginv1.ConfigSchema, table map[string]any) []string {
	if schema == nil {
		return nil
	}
	where := "[plugins." + plugin + "] in cajon.toml"
	specs := map[string]*pluginv1.ParamSpec{}
	for _, k := range schema.GetKeys() {
		specs[k.GetName()] = k
	}
	accepted := slices.Sorted(maps.Keys(specs))
	var problems []string
	for _, key := range slices.Sorted(maps.Keys(table)) {
		spec, ok := specs[key]
		switch {
		case !ok && len(accepted) == 0:
			problems = append(problems, fmt.Sprintf("%s: unknown key %q: plugin %s takes no configuration, so remove the table", where, key, plugin))
		case !ok:
			hint := ""
			if near := suggest.Closest(key, accepted); near != "" {
				hint = fmt.Sprintf(" (did you mean %q?)", near)
			}
			problems = append(problems, fmt.Sprintf("%s: unknown key %q%s; plugin %s accepts %s", where, key, hint, plugin, strings.Join(accepted, ", ")))
		default:
			if err := wire.CheckValue(spec.GetType(), table[key]); err != nil {
				problems = append(problems, fmt.Sprintf("%s: key %q: %v", where, key, err))
			}
		}
	}
	for _, key := range accepted {
		if spec := specs[key]; spec.GetRequired() && table[key] == nil {
			what := wire.TypeName(spec.GetType())
			if d := spec.GetDescription(); d != "" {
				what += ": " + d
			}
			problems = append(problems, fmt.Sprintf("%s: key %q is required (%s)", where, key, what))
		}
	}
	return problems
}
