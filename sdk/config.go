package sdk

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	pluginv1 "github.com/cajonfarm/cajon/sdk/proto/cajon/plugin/v1"
	"github.com/cajonfarm/cajon/sdk/wire"
	"google.golang.org/protobuf/types/known/structpb"
)

// ConfigSchema declares the keys of a plugin's [plugins.<name>] table in
// cajon.toml, so that the host checks the table when the worker starts: a
// mistyped key, a value of the wrong type or a missing required key is
// then an error the admin sees at once, instead of a failure of every task.
// Make it with ConfigOf. The zero value declares nothing: the host passes
// the table on unchecked, as it does for plugins built before schemas.
type ConfigSchema struct {
	schema *pluginv1.ConfigSchema
	err    error // a programming error found by ConfigOf, reported by Serve
}

// ConfigOf declares the plugin's table from the struct it decodes the table
// into with Run.PluginConfig, given with its defaults:
//
//	type config struct {
//		Exe      string   `json:"exe" desc:"Program to run."`
//		Retries  int      `json:"retries" desc:"Attempts before failing."`
//		Token    string   `json:"token" config:"required" desc:"API token."`
//		Timeout  duration `json:"timeout" type:"string" desc:"Like \"30s\"."`
//	}
//
//	sdk.Plugin{..., Config: sdk.ConfigOf(config{Retries: 3})}
//
// Every exported field is a key, named as encoding/json names it (its json
// tag, else the field's name; `json:"-"` leaves it out). Its type comes from
// the field's Go type as for parameters (string, bool, int, int64, float64,
// []string, map[string]string, any); a field whose type decodes itself
// (json.Unmarshaler, like a duration read from "30s") must say which JSON
// type it reads in a `type` tag: "string", "number", "integer", "boolean",
// "list of strings", "table of strings" or "any". `config:"required"` makes
// the key mandatory, `desc` describes it for `cajon plugins`. A field's
// value in defaults, when not its zero value, is shown as the key's default
// (the plugin applies its defaults itself; the host only shows them).
// ConfigOf(struct{}{}) declares a plugin that takes no table at all.
// Problems with the struct are reported by Serve.
func ConfigOf[T any](defaults T) ConfigSchema {
	schema, err := configSchemaOf(reflect.ValueOf(defaults))
	if err != nil {
		return ConfigSchema{err: fmt.Errorf("config schema: %w", err)}
	}
	return ConfigSchema{schema: schema}
}

func configSchemaOf(v reflect.Value) (*pluginv1.ConfigSchema, error) {
	if !v.IsValid() || v.Kind() != reflect.Struct {
		return nil, fmt.Errorf("ConfigOf needs a struct, not %s", v.Kind())
	}
	t := v.Type()
	schema := &pluginv1.ConfigSchema{}
	seen := map[string]string{}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		switch {
		case name == "-":
			continue
		case sf.Anonymous:
			return nil, fmt.Errorf("field %s: embedded structs are not supported; name the field", sf.Name)
		case name == "":
			name = sf.Name
		}
		if other, dup := seen[name]; dup {
			return nil, fmt.Errorf("fields %s and %s are both key %q", other, sf.Name, name)
		}
		seen[name] = sf.Name
		ptype, err := configTypeOf(sf)
		if err != nil {
			return nil, fmt.Errorf("field %s (key %q): %w", sf.Name, name, err)
		}
		spec := &pluginv1.ParamSpec{Name: name, Type: ptype, Description: sf.Tag.Get("desc")}
		switch opt := sf.Tag.Get("config"); opt {
		case "":
		case "required":
			spec.Required = true
		default:
			return nil, fmt.Errorf("field %s: unknown config tag option %q (only \"required\")", sf.Name, opt)
		}
		if fv := v.Field(i); !fv.IsZero() {
			if decodesItself(sf.Type) && !sf.Type.Implements(marshalerType) {
				return nil, fmt.Errorf("field %s (key %q): %s has an UnmarshalJSON but no MarshalJSON: give it one that writes what UnmarshalJSON reads, so that its default shows as an admin would write it", sf.Name, name, sf.Type)
			}
			def, err := configDefault(ptype, fv)
			if err != nil {
				return nil, fmt.Errorf("field %s (key %q): default: %w", sf.Name, name, err)
			}
			spec.DefaultValue = def
		}
		schema.Keys = append(schema.Keys, spec)
	}
	return schema, nil
}

// A field whose type is a json.Unmarshaler reads JSON of its own choosing,
// which its Go kind does not tell.
var (
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	marshalerType   = reflect.TypeFor[json.Marshaler]()
)

func decodesItself(t reflect.Type) bool {
	return t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType)
}

// configTypeOf is the JSON type of a config field: its `type` tag, which a
// type that decodes itself must have, or the type of its Go kind.
func configTypeOf(sf reflect.StructField) (pluginv1.ParamType, error) {
	if tag, ok := sf.Tag.Lookup("type"); ok {
		if tag == "any" {
			return pluginv1.ParamType_PARAM_TYPE_UNSPECIFIED, nil
		}
		for n := range pluginv1.ParamType_name {
			if t := pluginv1.ParamType(n); t != pluginv1.ParamType_PARAM_TYPE_UNSPECIFIED && wire.TypeName(t) == tag {
				return t, nil
			}
		}
		return 0, fmt.Errorf("unknown type %q in its type tag (string, number, integer, boolean, list of strings, table of strings or any)", tag)
	}
	if decodesItself(sf.Type) {
		return 0, fmt.Errorf("%s decodes itself (UnmarshalJSON): say which JSON type it reads in a type tag, such as `type:\"string\"`", sf.Type)
	}
	return paramTypeOf(sf.Type)
}

// configDefault is a field's value as the JSON it stands for, checked
// against the key's type.
func configDefault(t pluginv1.ParamType, fv reflect.Value) (*structpb.Value, error) {
	raw, err := json.Marshal(fv.Interface())
	if err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	if err := wire.CheckValue(t, v); err != nil {
		return nil, fmt.Errorf("%s: %w", raw, err)
	}
	return structpb.NewValue(v)
}
