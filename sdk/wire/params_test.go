package wire_test

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	pluginv1 "github.com/cajonfarm/cajon/sdk/proto/cajon/plugin/v1"
	"github.com/cajonfarm/cajon/sdk/wire"
)

const (
	tString  = pluginv1.ParamType_PARAM_TYPE_STRING
	tNumber  = pluginv1.ParamType_PARAM_TYPE_NUMBER
	tInteger = pluginv1.ParamType_PARAM_TYPE_INTEGER
	tBool    = pluginv1.ParamType_PARAM_TYPE_BOOL
	tList    = pluginv1.ParamType_PARAM_TYPE_STRING_LIST
	tMap     = pluginv1.ParamType_PARAM_TYPE_STRING_MAP
	tAny     = pluginv1.ParamType_PARAM_TYPE_UNSPECIFIED
	// tUnknown is a type from a plugin built against a newer plugin.proto.
	tUnknown = pluginv1.ParamType(99)
)

// TestNormalizeValueReadsJSONLikeTheStockWorker feeds values as a Manager's
// JSON decodes them (encoding/json into an any: float64 for every number) and
// checks each against what Flamenco's stock worker makes of the same value
// (internal/worker/cmd_executor.go cmdParameterAsStrings and cmdParameter[T],
// command_misc.go), or the error Cajon gives where the stock worker refuses
// the value or would hide a mistake.
func TestNormalizeValueReadsJSONLikeTheStockWorker(t *testing.T) {
	tests := []struct {
		name string
		typ  pluginv1.ParamType
		in   string // JSON
		want any    // the canonical value; ignored when err is set
		err  string // substring of the error; "" for none
	}{
		// Lists of strings: the stock worker formats every non-string element
		// with %v of the decoded value.
		{"stock preview-video args: fps as a number", tList,
			`["-c:v","h264","-crf","20","-g","18","-vf","pad=ceil(iw/2)*2:ceil(ih/2)*2","-pix_fmt","yuv420p","-r",23.976,"-y"]`,
			[]string{"-c:v", "h264", "-crf", "20", "-g", "18", "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-pix_fmt", "yuv420p", "-r", "23.976", "-y"}, ""},
		{"integer in a list", tList, `["-r",24]`, []string{"-r", "24"}, ""},
		{"integral float in a list", tList, `[2.0]`, []string{"2"}, ""},
		{"huge number in a list: %v's exponent form", tList, `[1e21]`, []string{"1e+21"}, ""},
		// %v switches to exponent form from a million on, as the stock
		// worker does: a job should write such numbers as strings.
		{"a million in a list", tList, `[1000000, 123456]`, []string{"1e+06", "123456"}, ""},
		{"negative and fractions", tList, `[-3, 0.1, -0.5]`, []string{"-3", "0.1", "-0.5"}, ""},
		{"booleans in a list", tList, `[true, false]`, []string{"true", "false"}, ""},
		{"empty argsBefore", tList, `[]`, []string{}, ""},
		{"empty string element", tList, `[""]`, []string{""}, ""},
		// The stock worker would pass "<nil>", "map[x:1]" or "[b]" on to the
		// program: a mistake in the job shown as a strange argument. Refused.
		{"null element", tList, `["a", null]`, nil, `expected a list of strings, but element 1 is null`},
		{"object element", tList, `["a", {"x": 1}]`, nil, `element 1 is a table ({"x":1})`},
		{"list element", tList, `["a", "b", ["c"]]`, nil, `element 2 is a list (["c"])`},
		{"a string where a list belongs", tList, `"-b -y"`, nil, `expected a list of strings, got a string ("-b -y")`},
		{"a number where a list belongs", tList, `24`, nil, `expected a list of strings, got a number (24)`},

		// Tables of strings (the stock worker has none; read like list elements).
		{"table with numbers and booleans", tMap, `{"A": "x", "B": 2, "C": true, "D": 0.25}`,
			map[string]string{"A": "x", "B": "2", "C": "true", "D": "0.25"}, ""},
		{"empty table", tMap, `{}`, map[string]string{}, ""},
		{"null value in a table", tMap, `{"A": "x", "B": null}`, nil, `expected a table of strings, but the value of "B" is null`},
		{"nested table", tMap, `{"A": {"x": 1}}`, nil, `the value of "A" is a table ({"x":1})`},
		{"list where a table belongs", tMap, `["A=1"]`, nil, `expected a table of strings, got a list (["A=1"])`},

		// Strings: a number or boolean is its text, as the stock worker
		// prints echo's message of any type (%v).
		{"string", tString, `"hello trace"`, "hello trace", ""},
		{"number as text", tString, `24`, "24", ""},
		{"fraction as text", tString, `23.976`, "23.976", ""},
		{"boolean as text", tString, `true`, "true", ""},
		// The stock worker silently drops an exeArgs that is not a string
		// (cmdParameter[string] with its ok ignored) and runs Blender
		// without "-b -y"; Cajon refuses it.
		{"list where text belongs (exeArgs as a list)", tString, `["-b", "-y"]`, nil, `expected a string, got a list (["-b","-y"])`},
		{"table where text belongs", tString, `{"a": 1}`, nil, `expected a string, got a table ({"a":1})`},

		// Numbers: the stock worker reads fps and sleep's duration_in_seconds
		// only as JSON numbers (cmdParameter[float64], a float64 switch) and
		// refuses a number in quotes; so does Cajon, saying how to fix it.
		{"fps", tNumber, `23.976`, 23.976, ""},
		{"integral duration", tNumber, `1`, 1.0, ""},
		{"fps in quotes", tNumber, `"24"`, nil, `expected a number, got a string ("24"); write the number without quotes (24)`},
		{"not a number", tNumber, `"fast"`, nil, `expected a number, got a string ("fast")`},
		{"boolean where a number belongs", tNumber, `true`, nil, `expected a number, got a boolean (true)`},

		// Integers: JSON has only numbers, so 2.0 is the integer 2.
		{"integer step given as a float", tInteger, `2.0`, 2.0, ""},
		{"integer", tInteger, `10`, 10.0, ""},
		{"fraction where an integer belongs", tInteger, `2.5`, nil, `expected an integer, got a number (2.5)`},
		{"integer in quotes", tInteger, `"2"`, nil, `write the number without quotes (2)`},
		{"integer beyond 2^53", tInteger, `9007199254740993`, nil, `expected an integer`},

		{"boolean", tBool, `true`, true, ""},
		{"boolean in quotes", tBool, `"true"`, nil, `expected a boolean, got a string ("true")`},
		{"number where a boolean belongs", tBool, `1`, nil, `expected a boolean, got a number (1)`},

		{"any value is passed on unchanged", tAny, `{"a": [1, null]}`, map[string]any{"a": []any{1.0, nil}}, ""},

		// A type this host does not know: accepted, unchanged, for the
		// plugin (built against a newer plugin.proto) to judge.
		{"unknown type: a string", tUnknown, `"24"`, "24", ""},
		{"unknown type: a table", tUnknown, `{"a": [1, null]}`, map[string]any{"a": []any{1.0, nil}}, ""},
		{"unknown type: a list with a null", tUnknown, `["a", null]`, []any{"a", nil}, ""},
		{"unknown type: a fraction", tUnknown, `2.5`, 2.5, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in any
			if err := json.Unmarshal([]byte(tt.in), &in); err != nil {
				t.Fatalf("bad test JSON %s: %v", tt.in, err)
			}
			got, err := wire.NormalizeValue(tt.typ, in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("NormalizeValue(%s, %s) = %#v, %v; want an error containing %q", wire.TypeName(tt.typ), tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("NormalizeValue(%s, %s) = %#v, %v; want %#v", wire.TypeName(tt.typ), tt.in, got, err, tt.want)
			}
			if err := wire.CheckValue(tt.typ, in); err != nil {
				t.Errorf("CheckValue disagrees with NormalizeValue: %v", err)
			}
		})
	}
}

// TestNormalizeValueGoShapes covers values that do not come from JSON: TOML
// job files decode integers as int64, tests and Go callers pass []string,
// and TOML can spell nan and inf.
func TestNormalizeValueGoShapes(t *testing.T) {
	tests := []struct {
		name string
		typ  pluginv1.ParamType
		in   any
		want any
		err  string
	}{
		{"TOML integer in a list", tList, []any{"-r", int64(24)}, []string{"-r", "24"}, ""},
		{"[]string", tList, []string{"a", "b"}, []string{"a", "b"}, ""},
		{"map[string]string", tMap, map[string]string{"K": "V"}, map[string]string{"K": "V"}, ""},
		{"TOML integer", tInteger, int64(7), 7.0, ""},
		{"json.Number in a list", tList, []any{json.Number("23.976")}, []string{"23.976"}, ""},
		{"TOML nan", tNumber, math.NaN(), nil, "expected a finite number"},
		{"TOML inf", tNumber, math.Inf(1), nil, "expected a finite number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := wire.NormalizeValue(tt.typ, tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %#v, %v; want an error containing %q", got, err, tt.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v, %v; want %#v", got, err, tt.want)
			}
		})
	}
}

func TestTypeName(t *testing.T) {
	tests := []struct {
		typ  pluginv1.ParamType
		want string
	}{
		{tString, "string"},
		{tNumber, "number"},
		{tInteger, "integer"},
		{tBool, "boolean"},
		{tList, "list of strings"},
		{tMap, "table of strings"},
		{tAny, "any value"},
		{tUnknown, "value of unknown type 99"},
	}
	for _, tt := range tests {
		if got := wire.TypeName(tt.typ); got != tt.want {
			t.Errorf("TypeName(%d) = %q, want %q", tt.typ, got, tt.want)
		}
	}
}

func TestScalarTextIsPercentV(t *testing.T) {
	for in, want := range map[any]string{
		24.0: "24", 23.976: "23.976", 1e21: "1e+21", 1e20: "1e+20", 1234567.0: "1.234567e+06", 123456.0: "123456", 1e-5: "1e-05",
		true: "true", "x": "x", int64(-3): "-3",
	} {
		if got, ok := wire.ScalarText(in); !ok || got != want {
			t.Errorf("ScalarText(%#v) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []any{nil, []any{"a"}, map[string]any{}} {
		if got, ok := wire.ScalarText(in); ok {
			t.Errorf("ScalarText(%#v) = %q, want not ok", in, got)
		}
	}
}

// TestNormalizeParams checks a whole command: optional lists that are
// missing or null stay absent (the plugin's default applies), undeclared
// parameters pass through unless refused, and every problem is listed.
func TestNormalizeParams(t *testing.T) {
	spec := &pluginv1.CommandSpec{Name: "frames-to-video", Params: []*pluginv1.ParamSpec{
		{Name: "exe", Type: tString},
		{Name: "fps", Type: tNumber, Required: true, Description: "frames per second"},
		{Name: "argsBefore", Type: tList},
		{Name: "args", Type: tList},
		{Name: "colour", Type: tUnknown, Description: "a type from a newer plugin.proto"},
	}}
	tests := []struct {
		name          string
		in            string
		rejectUnknown bool
		want          map[string]any
		err           string
	}{
		{"stock preview-video", `{"exe": "ffmpeg", "fps": 23.976, "args": ["-r", 23.976, "-y"]}`, false,
			map[string]any{"exe": "ffmpeg", "fps": 23.976, "args": []string{"-r", "23.976", "-y"}}, ""},
		{"missing optional lists stay absent", `{"fps": 24}`, false, map[string]any{"fps": 24.0}, ""},
		{"null counts as absent", `{"fps": 24, "argsBefore": null}`, false, map[string]any{"fps": 24.0}, ""},
		{"unknown parameters pass through", `{"fps": 24, "extra": [1]}`, false, map[string]any{"fps": 24.0, "extra": []any{1.0}}, ""},
		{"unknown parameters refused", `{"fps": 24, "extra": 1}`, true, nil, `unknown parameter "extra" (known: args, argsBefore, colour, exe, fps)`},
		{"a parameter of an unknown type passes unchanged", `{"fps": 24, "colour": {"r": 1, "g": "x"}}`, true,
			map[string]any{"fps": 24.0, "colour": map[string]any{"r": 1.0, "g": "x"}}, ""},
		{"every problem at once", `{"args": ["-r", {"fps": 24}]}`, false, nil,
			`command "frames-to-video": parameter "fps" is required (a number: frames per second); parameter "args": expected a list of strings, but element 1 is a table`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in map[string]any
			if err := json.Unmarshal([]byte(tt.in), &in); err != nil {
				t.Fatal(err)
			}
			before, _ := json.Marshal(in)
			got, err := wire.NormalizeParams(spec, in, tt.rejectUnknown)
			if after, _ := json.Marshal(in); string(after) != string(before) {
				t.Errorf("NormalizeParams changed its input: %s -> %s", before, after)
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %#v, %v; want an error containing %q", got, err, tt.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v, %v; want %#v", got, err, tt.want)
			}
		})
	}
}

// FuzzNormalizeValue: for any JSON value and any type, NormalizeValue either
// refuses it or returns the type's canonical form, which normalises to
// itself, and CheckValue agrees.
func FuzzNormalizeValue(f *testing.F) {
	for _, seed := range []string{`["-r", 23.976, true]`, `{"A": 2, "B": null}`, `"24"`, `2.0`, `[[1]]`, `1e21`, `null`} {
		for typ := range 7 {
			f.Add(seed, typ)
		}
		f.Add(seed, int(tUnknown))
	}
	f.Fuzz(func(t *testing.T, in string, typ int) {
		var v any
		if json.Unmarshal([]byte(in), &v) != nil || typ < 0 || typ > 6 && typ != int(tUnknown) {
			return
		}
		pt := pluginv1.ParamType(typ)
		got, err := wire.NormalizeValue(pt, v)
		if (wire.CheckValue(pt, v) == nil) != (err == nil) {
			t.Fatalf("CheckValue and NormalizeValue disagree on %s as %s", in, wire.TypeName(pt))
		}
		if err != nil || pt == tAny || pt == tUnknown {
			return
		}
		switch pt {
		case tString:
			if _, ok := got.(string); !ok {
				t.Fatalf("%s as a string: %T", in, got)
			}
		case tList:
			if _, ok := got.([]string); !ok {
				t.Fatalf("%s as a list: %T", in, got)
			}
		case tMap:
			if _, ok := got.(map[string]string); !ok {
				t.Fatalf("%s as a table: %T", in, got)
			}
		}
		again, err := wire.NormalizeValue(pt, got)
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Fatalf("%s as %s: %#v normalises to %#v, %v", in, wire.TypeName(pt), got, again, err)
		}
	})
}
