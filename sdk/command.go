package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	pluginv1 "github.com/cajonfarm/cajon/sdk/proto/cajon/plugin/v1"
	"github.com/cajonfarm/cajon/sdk/wire"
	"google.golang.org/protobuf/types/known/structpb"
)

// Runner is implemented by (a pointer to) a command's parameter struct. The
// SDK makes a fresh value for every run, fills its fields from the task's
// parameters, then calls Run.
type Runner interface {
	Run(ctx context.Context, run *Run) error
}

// Command is one command a plugin provides. Make it with NewCommand.
type Command struct {
	spec   *pluginv1.CommandSpec
	fields []paramField
	make   func() (Runner, reflect.Value)
	err    error // a programming error found by NewCommand, reported by Serve
}

// paramField ties a struct field to the parameter it is decoded from.
type paramField struct {
	index []int
	spec  *pluginv1.ParamSpec
}

// NewCommand declares a command named name, of Flamenco task type taskType,
// whose parameters are the exported fields of T tagged with `param`:
//
//	Exe  string   `param:"exe,required" desc:"Program to run."`
//	Args []string `param:"args" desc:"Its arguments."`
//	Wait float64  `param:"wait" default:"1.5"`
//
// The tag's first item is the parameter's name; ",required" makes it
// mandatory. `default` gives a value used when the parameter is absent (lists
// and tables as JSON), `desc` a description shown by `cajon plugins`.
// Supported field types: string, bool, int, int64, float64, []string,
// map[string]string, and any (any JSON value, unchecked).
//
// *T must implement Runner. Problems with the tags are reported by Serve.
func NewCommand[T any, PT interface {
	*T
	Runner
}](name, taskType, description string) Command {
	c := Command{spec: &pluginv1.CommandSpec{Name: name, TaskType: taskType, Description: description}}
	c.make = func() (Runner, reflect.Value) {
		p := PT(new(T))
		return p, reflect.ValueOf(p).Elem()
	}
	fields, err := paramFields(reflect.TypeFor[T]())
	if err != nil {
		c.err = fmt.Errorf("command %q: %w", name, err)
		return c
	}
	c.fields = fields
	for _, f := range fields {
		c.spec.Params = append(c.spec.Params, f.spec)
	}
	return c
}

// Name is the command's name.
func (c Command) Name() string { return c.spec.GetName() }

func paramFields(t reflect.Type) ([]paramField, error) {
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("parameter type %s is not a struct", t)
	}
	var fields []paramField
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag, ok := sf.Tag.Lookup("param")
		if !ok || !sf.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			return nil, fmt.Errorf("field %s: empty parameter name in tag", sf.Name)
		}
		ptype, err := paramTypeOf(sf.Type)
		if err != nil {
			return nil, fmt.Errorf("field %s (parameter %q): %w", sf.Name, name, err)
		}
		spec := &pluginv1.ParamSpec{
			Name:        name,
			Type:        ptype,
			Required:    opts == "required",
			Description: sf.Tag.Get("desc"),
		}
		if opts != "" && opts != "required" {
			return nil, fmt.Errorf("field %s: unknown tag option %q (only \"required\")", sf.Name, opts)
		}
		if def, ok := sf.Tag.Lookup("default"); ok {
			v, err := parseDefault(ptype, def)
			if err != nil {
				return nil, fmt.Errorf("field %s (parameter %q): default %q: %w", sf.Name, name, def, err)
			}
			spec.DefaultValue = v
		}
		fields = append(fields, paramField{index: sf.Index, spec: spec})
	}
	return fields, nil
}

func paramTypeOf(t reflect.Type) (pluginv1.ParamType, error) {
	switch {
	case t.Kind() == reflect.String:
		return pluginv1.ParamType_PARAM_TYPE_STRING, nil
	case t.Kind() == reflect.Bool:
		return pluginv1.ParamType_PARAM_TYPE_BOOL, nil
	case t.Kind() == reflect.Int || t.Kind() == reflect.Int64:
		return pluginv1.ParamType_PARAM_TYPE_INTEGER, nil
	case t.Kind() == reflect.Float64:
		return pluginv1.ParamType_PARAM_TYPE_NUMBER, nil
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		return pluginv1.ParamType_PARAM_TYPE_STRING_LIST, nil
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String && t.Elem().Kind() == reflect.String:
		return pluginv1.ParamType_PARAM_TYPE_STRING_MAP, nil
	case t.Kind() == reflect.Interface && t.NumMethod() == 0:
		return pluginv1.ParamType_PARAM_TYPE_UNSPECIFIED, nil
	}
	return 0, fmt.Errorf("unsupported field type %s", t)
}

func parseDefault(t pluginv1.ParamType, s string) (*structpb.Value, error) {
	var v any
	switch t {
	case pluginv1.ParamType_PARAM_TYPE_STRING:
		v = s
	case pluginv1.ParamType_PARAM_TYPE_BOOL:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, err
		}
		v = b
	case pluginv1.ParamType_PARAM_TYPE_INTEGER, pluginv1.ParamType_PARAM_TYPE_NUMBER:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, err
		}
		v = f
	default:
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			return nil, err
		}
	}
	if err := wire.CheckValue(t, v); err != nil {
		return nil, err
	}
	return structpb.NewValue(v)
}

// decode makes a fresh parameter value for one run and fills it from params,
// normalised first (wire.NormalizeParams) so that a plugin reads the task's
// values exactly as Flamenco's stock worker would: ["-r", 23.976] is
// []string{"-r", "23.976"}.
func (c Command) decode(params map[string]any) (Runner, error) {
	norm, err := wire.NormalizeParams(c.spec, params, false)
	if err != nil {
		return nil, err
	}
	r, v := c.make()
	for _, f := range c.fields {
		raw, ok := norm[f.spec.GetName()]
		if !ok {
			if f.spec.GetDefaultValue() == nil {
				continue
			}
			// Defaults were checked by NewCommand; this only makes them canonical.
			if raw, err = wire.NormalizeValue(f.spec.GetType(), f.spec.GetDefaultValue().AsInterface()); err != nil {
				return nil, &wire.ParamError{Command: c.Name(), Problems: []string{fmt.Sprintf("parameter %q: default: %v", f.spec.GetName(), err)}}
			}
		}
		if err := setField(v.FieldByIndex(f.index), raw); err != nil {
			return nil, &wire.ParamError{Command: c.Name(), Problems: []string{fmt.Sprintf("parameter %q: %v", f.spec.GetName(), err)}}
		}
	}
	return r, nil
}

// setField stores a value in the canonical form of wire.NormalizeValue into a
// field of the matching kind (paramTypeOf).
func setField(field reflect.Value, raw any) error {
	switch field.Kind() {
	case reflect.String:
		field.SetString(raw.(string))
	case reflect.Bool:
		field.SetBool(raw.(bool))
	case reflect.Int, reflect.Int64:
		field.SetInt(int64(raw.(float64)))
	case reflect.Float64:
		field.SetFloat(raw.(float64))
	case reflect.Slice, reflect.Map:
		// Convert: the field may be a named type such as `type Args []string`.
		field.Set(reflect.ValueOf(raw).Convert(field.Type()))
	case reflect.Interface:
		field.Set(reflect.ValueOf(raw))
	default:
		return fmt.Errorf("cannot store into %s", field.Type())
	}
	return nil
}
