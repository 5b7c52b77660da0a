package sdk

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"

	pluginv1 "github.com/cajonfarm/cajon/sdk/proto/cajon/plugin/v1"
)

// TypeName is how a parameter type is named in error messages and docs.
func TypeName(t pluginv1.ParamType) string {
	switch t {
	case pluginv1.ParamType_PARAM_TYPE_STRING:
		return "string"
	case pluginv1.ParamType_PARAM_TYPE_NUMBER:
		return "number"
	case pluginv1.ParamType_PARAM_TYPE_INTEGER:
		return "integer"
	case pluginv1.ParamType_PARAM_TYPE_BOOL:
		return "boolean"
	case pluginv1.ParamType_PARAM_TYPE_STRING_LIST:
		return "list of strings"
	case pluginv1.ParamType_PARAM_TYPE_STRING_MAP:
		return "table of strings"
	default:
		return "any value"
	}
}

// article puts "a" or "an" before a type name.
func article(name string) string {
	if name != "" && strings.ContainsRune("aeiou", rune(name[0])) {
		return "an " + name
	}
	return "a " + name
}

// describeValue names a JSON value's kind and shows it briefly, for errors.
func describeValue(v any) string {
	var kind string
	switch v.(type) {
	case nil:
		return "null"
	case string:
		kind = "a string"
	case bool:
		kind = "a boolean"
	case float64, float32, int, int64, int32, json.Number:
		kind = "a number"
	case []any, []string:
		kind = "a list"
	case map[string]any, map[string]string:
		kind = "a table"
	default:
		kind = fmt.Sprintf("a %T", v)
	}
	shown, err := json.Marshal(v)
	if err != nil {
		return kind
	}
	if len(shown) > 60 {
		shown = append(shown[:57], "..."...)
	}
	return fmt.Sprintf("%s (%s)", kind, shown)
}

// asFloat converts a JSON number in any of its Go shapes.
func asFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case int32:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// CheckValue reports whether v is a valid value for a parameter of type t.
// The error says what was expected and what was found.
func CheckValue(t pluginv1.ParamType, v any) error {
	ok := false
	switch t {
	case pluginv1.ParamType_PARAM_TYPE_UNSPECIFIED:
		ok = true
	case pluginv1.ParamType_PARAM_TYPE_STRING:
		_, ok = v.(string)
	case pluginv1.ParamType_PARAM_TYPE_NUMBER:
		_, ok = asFloat(v)
	case pluginv1.ParamType_PARAM_TYPE_INTEGER:
		f, isNum := asFloat(v)
		ok = isNum && f == math.Trunc(f) && math.Abs(f) < 1<<53
	case pluginv1.ParamType_PARAM_TYPE_BOOL:
		_, ok = v.(bool)
	case pluginv1.ParamType_PARAM_TYPE_STRING_LIST:
		switch l := v.(type) {
		case []string:
			ok = true
		case []any:
			ok = true
			for _, e := range l {
				if _, isStr := e.(string); !isStr {
					ok = false
				}
			}
		}
	case pluginv1.ParamType_PARAM_TYPE_STRING_MAP:
		switch m := v.(type) {
		case map[string]string:
			ok = true
		case map[string]any:
			ok = true
			for _, e := range m {
				if _, isStr := e.(string); !isStr {
					ok = false
				}
			}
		}
	}
	if !ok {
		return fmt.Errorf("expected %s, got %s", article(TypeName(t)), describeValue(v))
	}
	return nil
}

// ParamError describes every problem with one command's parameters.
type ParamError struct {
	Command  string
	Problems []string
}

func (e *ParamError) Error() string {
	return fmt.Sprintf("command %q: %s", e.Command, strings.Join(e.Problems, "; "))
}

// CheckParams checks params against a command's parameter specs: every
// required parameter present, every present parameter of the right type. With
// rejectUnknown, a parameter the command does not declare is a problem too
// (useful for hand-written job files, where it is usually a typo). The error,
// a *ParamError, lists all problems at once.
func CheckParams(spec *pluginv1.CommandSpec, params map[string]any, rejectUnknown bool) error {
	var problems []string
	known := make(map[string]bool, len(spec.GetParams()))
	for _, p := range spec.GetParams() {
		known[p.GetName()] = true
		v, present := params[p.GetName()]
		if !present || v == nil {
			if p.GetRequired() {
				problems = append(problems, fmt.Sprintf("parameter %q is required (%s: %s)", p.GetName(), article(TypeName(p.GetType())), p.GetDescription()))
			}
			continue
		}
		if err := CheckValue(p.GetType(), v); err != nil {
			problems = append(problems, fmt.Sprintf("parameter %q: %v", p.GetName(), err))
		}
	}
	if rejectUnknown {
		var unknown []string
		for name := range params {
			if !known[name] {
				unknown = append(unknown, name)
			}
		}
		sort.Strings(unknown)
		for _, name := range unknown {
			problems = append(problems, fmt.Sprintf("unknown parameter %q (known: %s)", name, strings.Join(sortedKeys(known), ", ")))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return &ParamError{Command: spec.GetName(), Problems: problems}
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) == 0 {
		return []string{"none"}
	}
	return keys
}
