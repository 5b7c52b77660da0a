package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	pluginv1 "github.com/cajonfarm/cajon/sdk/proto/cajon/plugin/v1"
)

// TypeName is how a parameter type is named in error messages and docs.
func TypeName(t pluginv1.ParamType) string {
	switch t {
	case pluginv1.ParamType_PARAM_TYPE_UNSPECIFIED:
		return "any value"
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
		// From a plugin built against a newer plugin.proto.
		return fmt.Sprintf("value of unknown type %d", t)
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

// ScalarText is the text a scalar JSON value stands for: a string is itself,
// a number or a boolean is formatted like Flamenco's stock worker formats the
// elements of its list parameters (Go's %v of the decoded value: 24, 23.976,
// 1e+06, 1e+21, true). ok is false for null, lists and tables: their %v
// ("map[a:1]", "[1 2]", "<nil>") would hide a mistake in the job instead of
// reporting it, so they are refused where text is expected.
func ScalarText(v any) (text string, ok bool) {
	switch s := v.(type) {
	case string:
		return s, true
	case json.Number:
		return s.String(), true
	case bool, float64, float32, int, int64, int32:
		return fmt.Sprintf("%v", s), true
	}
	return "", false
}

// NormalizeValue checks v against a parameter type and returns it in the
// type's canonical form, the form the host sends to plugins:
//
//   - string: a string; a number or boolean is accepted and becomes its
//     ScalarText, as Flamenco's stock worker reads its echo message.
//   - number: a finite float64. A number in quotes ("24") is refused, as the
//     stock worker refuses it.
//   - integer: a float64 without a fraction (2.0 is 2), below 2^53.
//   - boolean: a bool.
//   - list of strings: a []string; numbers and booleans in the list become
//     their ScalarText, exactly as the stock worker turns the Manager's
//     ["-r", 23.976] into "-r" "23.976".
//   - table of strings: a map[string]string, its values read like list
//     elements.
//   - any value: v unchanged.
//   - a type this package does not know (from a plugin built against a
//     newer plugin.proto): v unchanged, for the plugin to judge, so that a
//     new type never makes an older host refuse a job.
//
// The error says what was expected and what was found, and for a list or
// table which element is wrong.
func NormalizeValue(t pluginv1.ParamType, v any) (any, error) {
	mismatch := func() error {
		msg := fmt.Sprintf("expected %s, got %s", article(TypeName(t)), describeValue(v))
		if s, isStr := v.(string); isStr && (t == pluginv1.ParamType_PARAM_TYPE_NUMBER || t == pluginv1.ParamType_PARAM_TYPE_INTEGER) {
			if _, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
				msg += fmt.Sprintf("; write the number without quotes (%s), Flamenco's worker refuses it in quotes too", strings.TrimSpace(s))
			}
		}
		return errors.New(msg)
	}
	switch t {
	case pluginv1.ParamType_PARAM_TYPE_UNSPECIFIED:
		return v, nil
	case pluginv1.ParamType_PARAM_TYPE_STRING:
		if s, ok := ScalarText(v); ok {
			return s, nil
		}
	case pluginv1.ParamType_PARAM_TYPE_NUMBER:
		if f, ok := asFloat(v); ok {
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, fmt.Errorf("expected a finite number, got %v", f)
			}
			return f, nil
		}
	case pluginv1.ParamType_PARAM_TYPE_INTEGER:
		if f, ok := asFloat(v); ok && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return f, nil
		}
	case pluginv1.ParamType_PARAM_TYPE_BOOL:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case pluginv1.ParamType_PARAM_TYPE_STRING_LIST:
		switch l := v.(type) {
		case []string:
			return append([]string{}, l...), nil
		case []any:
			out := make([]string, len(l))
			for i, e := range l {
				s, ok := ScalarText(e)
				if !ok {
					return nil, fmt.Errorf("expected a list of strings, but element %d is %s: only strings, numbers and booleans are read as text", i, describeValue(e))
				}
				out[i] = s
			}
			return out, nil
		}
	case pluginv1.ParamType_PARAM_TYPE_STRING_MAP:
		switch m := v.(type) {
		case map[string]string:
			out := make(map[string]string, len(m))
			for k, e := range m {
				out[k] = e
			}
			return out, nil
		case map[string]any:
			out := make(map[string]string, len(m))
			// Sorted, so that the same table always reports the same key.
			for _, k := range sortedKeys(m) {
				s, ok := ScalarText(m[k])
				if !ok {
					return nil, fmt.Errorf("expected a table of strings, but the value of %q is %s: only strings, numbers and booleans are read as text", k, describeValue(m[k]))
				}
				out[k] = s
			}
			return out, nil
		}
	default: // a type this host does not know: the plugin's to judge
		return v, nil
	}
	return nil, mismatch()
}

// CheckValue reports whether v is a valid value for a parameter of type t:
// NormalizeValue without the result.
func CheckValue(t pluginv1.ParamType, v any) error {
	_, err := NormalizeValue(t, v)
	return err
}

// ParamError describes every problem with one command's parameters.
type ParamError struct {
	Command  string
	Problems []string
}

func (e *ParamError) Error() string {
	return fmt.Sprintf("command %q: %s", e.Command, strings.Join(e.Problems, "; "))
}

// NormalizeParams checks params against a command's parameter specs and
// returns them in canonical form (NormalizeValue): every required parameter
// present, every present parameter of the right type. A null counts as
// absent and is left out, so the command's default applies. A parameter the
// command does not declare is passed on unchanged, or with rejectUnknown is a
// problem (useful for hand-written job files, where it is usually a typo).
// The error, a *ParamError, lists all problems at once. params is not
// modified.
func NormalizeParams(spec *pluginv1.CommandSpec, params map[string]any, rejectUnknown bool) (map[string]any, error) {
	var problems []string
	out := make(map[string]any, len(params))
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
		norm, err := NormalizeValue(p.GetType(), v)
		if err != nil {
			problems = append(problems, fmt.Sprintf("parameter %q: %v", p.GetName(), err))
			continue
		}
		out[p.GetName()] = norm
	}
	var unknown []string
	for name, v := range params {
		if !known[name] {
			unknown = append(unknown, name)
			out[name] = v
		}
	}
	if rejectUnknown {
		sort.Strings(unknown)
		for _, name := range unknown {
			problems = append(problems, fmt.Sprintf("unknown parameter %q (known: %s)", name, strings.Join(knownNames(known), ", ")))
		}
	}
	if len(problems) > 0 {
		return nil, &ParamError{Command: spec.GetName(), Problems: problems}
	}
	return out, nil
}

// CheckParams is NormalizeParams without the result.
func CheckParams(spec *pluginv1.CommandSpec, params map[string]any, rejectUnknown bool) error {
	_, err := NormalizeParams(spec, params, rejectUnknown)
	return err
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func knownNames(known map[string]bool) []string {
	if len(known) == 0 {
		return []string{"none"}
	}
	return sortedKeys(known)
}
