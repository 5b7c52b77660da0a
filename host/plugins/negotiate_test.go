package plugins_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/host/plugins"
	"github.com/cajonfarm/cajon/host/version"
	pluginv1 "github.com/cajonfarm/cajon/sdk/proto/cajon/plugin/v1"
	"github.com/hashicorp/go-hclog"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
)

// schema is a config schema as a plugin declares it.
var schema = &pluginv1.ConfigSchema{Keys: []*pluginv1.ParamSpec{
	{Name: "root", Type: pluginv1.ParamType_PARAM_TYPE_STRING, Required: true, Description: "Folder to work under."},
	{Name: "depth", Type: pluginv1.ParamType_PARAM_TYPE_INTEGER, DefaultValue: structpb.NewNumberValue(2)},
	{Name: "labels", Type: pluginv1.ParamType_PARAM_TYPE_STRING_MAP},
	{Name: "shade", Type: pluginv1.ParamType(99)},
	{Name: "extra"},
}}

func TestConfigProblems(t *testing.T) {
	tests := []struct {
		name   string
		schema *pluginv1.ConfigSchema
		table  map[string]any
		want   []string // each a substring of one problem, in order
	}{
		{"fits", schema, map[string]any{"root": "/srv", "depth": int64(3), "labels": map[string]any{"a": "b"}}, nil},
		{"a typo, with a suggestion", schema, map[string]any{"root": "/srv", "dpeth": int64(3)},
			[]string{`[plugins.p] in cajon.toml: unknown key "dpeth" (did you mean "depth"?); plugin p accepts depth, extra, labels, root, shade`}},
		{"an unknown key, nothing near", schema, map[string]any{"root": "/srv", "colour": "red"},
			[]string{`unknown key "colour"; plugin p accepts depth, extra, labels, root, shade`}},
		{"a wrong type names the expected one", schema, map[string]any{"root": "/srv", "depth": "three"},
			[]string{`[plugins.p] in cajon.toml: key "depth": expected an integer, got a string ("three")`}},
		{"a number in quotes", schema, map[string]any{"root": "/srv", "depth": "3"},
			[]string{`key "depth": expected an integer, got a string ("3"); write the number without quotes (3)`}},
		{"a table of strings holding a list", schema, map[string]any{"root": "/srv", "labels": map[string]any{"a": []any{"b"}}},
			[]string{`key "labels": expected a table of strings, but the value of "a" is a list`}},
		{"a required key missing", schema, map[string]any{"depth": int64(1)},
			[]string{`[plugins.p] in cajon.toml: key "root" is required (string: Folder to work under.)`}},
		{"no table, a required key", schema, nil, []string{`key "root" is required`}},
		{"every problem at once", schema, map[string]any{"dpeth": int64(3), "depth": true},
			[]string{`key "depth": expected an integer, got a boolean (true)`, `unknown key "dpeth"`, `key "root" is required`}},
		{"a type this host does not know, and no type: any value", schema, map[string]any{"root": "/srv", "shade": []any{1.0, nil}, "extra": map[string]any{"x": nil}}, nil},
		{"a plugin that takes no table", &pluginv1.ConfigSchema{}, map[string]any{"shell": "bash"},
			[]string{`[plugins.p] in cajon.toml: unknown key "shell": plugin p takes no configuration, so remove the table`}},
		{"a plugin that takes no table, none given", &pluginv1.ConfigSchema{}, nil, nil},
		{"no schema declared: anything goes", nil, map[string]any{"whatever": int64(1)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := plugins.ConfigProblems("p", tt.schema, tt.table)
			if len(got) != len(tt.want) {
				t.Fatalf("problems %q, want %d like %q", got, len(tt.want), tt.want)
			}
			for i, want := range tt.want {
				if !strings.Contains(got[i], want) {
					t.Errorf("problem %d: %q, want it to contain %q", i, got[i], want)
				}
			}
		})
	}
}

func TestDescribeWarnings(t *testing.T) {
	withParams := func(params ...*pluginv1.ParamSpec) *pluginv1.DescribeResponse {
		return &pluginv1.DescribeResponse{Name: "p", Commands: []*pluginv1.CommandSpec{{Name: "run", Params: params}}}
	}
	tests := []struct {
		name string
		desc *pluginv1.DescribeResponse
		want []string
	}{
		{"every parameter typed", withParams(&pluginv1.ParamSpec{Name: "a", Type: pluginv1.ParamType_PARAM_TYPE_STRING}), nil},
		{"a parameter without a type", withParams(&pluginv1.ParamSpec{Name: "a"}),
			[]string{`plugin p: command "run": parameter "a" declares no type, so any value passes unchecked`}},
		{"a parameter of a type this host does not know", withParams(&pluginv1.ParamSpec{Name: "a", Type: 42}),
			[]string{`plugin p: command "run": parameter "a" has type 42, which this cajon does not know (the plugin is newer): its values are passed on unchecked`}},
		{"config keys too", &pluginv1.DescribeResponse{Name: "p", ConfigSchema: schema},
			[]string{`plugin p: [plugins.p] key "shade" has type 99`, `plugin p: [plugins.p] key "extra" declares no type`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := plugins.DescribeWarnings(tt.desc)
			if len(got) != len(tt.want) {
				t.Fatalf("warnings %q, want %d like %q", got, len(tt.want), tt.want)
			}
			for i, want := range tt.want {
				if !strings.Contains(got[i], want) {
					t.Errorf("warning %d: %q, want it to contain %q", i, got[i], want)
				}
			}
		})
	}
}

// Typed capabilities win; a plugin built before them is read from the
// names it sent in the deprecated field 5.
func TestCapabilitiesOf(t *testing.T) {
	tests := []struct {
		name     string
		desc     *pluginv1.DescribeResponse
		previews bool
	}{
		{"typed", &pluginv1.DescribeResponse{TypedCapabilities: &pluginv1.Capabilities{Previews: true}}, true},
		{"typed, none: the names are not read", &pluginv1.DescribeResponse{TypedCapabilities: &pluginv1.Capabilities{}, Capabilities: []string{"previews"}}, false},
		{"an old plugin's names", &pluginv1.DescribeResponse{Capabilities: []string{"later-thing", "previews"}}, true},
		{"an old plugin without any", &pluginv1.DescribeResponse{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := plugins.CapabilitiesOf(tt.desc).GetPreviews(); got != tt.previews {
				t.Errorf("previews %v, want %v", got, tt.previews)
			}
		})
	}
}

// The host's side of the negotiation reaches a plugin written without the
// SDK, and its answers come back, over real gRPC.
func TestNegotiationCrossesTheWire(t *testing.T) {
	said := filepath.Join(t.TempDir(), "described.json")
	t.Setenv("CAJON_FOREIGN_MODE", "negotiate")
	t.Setenv("CAJON_FOREIGN_DESCRIBED", said)
	reg := open(t, []string{foreignDir})
	raw, err := os.ReadFile(said)
	if err != nil {
		t.Fatalf("the plugin was not asked: %v; notes %v", err, reg.Notes())
	}
	var req pluginv1.DescribeRequest
	if err := protojson.Unmarshal(raw, &req); err != nil {
		t.Fatal(err)
	}
	if req.GetHostVersion() != version.Version {
		t.Errorf("host version %q, want %q", req.GetHostVersion(), version.Version)
	}
	for _, f := range []string{"optional-progress", "total-steps", "unknown-param-types", "typed-capabilities", "config-schema", "cgroup-path"} {
		if !slices.Contains(req.GetFeatures(), f) {
			t.Errorf("the host does not say it speaks %q: %v", f, req.GetFeatures())
		}
	}
	d := reg.Plugins()[0]
	if !slices.Contains(d.Capabilities, "previews") || !d.ConfigDeclared || len(d.Config) != 3 {
		t.Errorf("the answer lost its capabilities or schema: %v", d)
	}
}

// A parameter of a type this host does not know is accepted by the host's
// checks and reaches the plugin unchanged; it and an untyped one are
// warned about when the registry opens, naming plugin, command, parameter.
func TestUnknownParamTypeReachesThePlugin(t *testing.T) {
	t.Setenv("CAJON_FOREIGN_MODE", "negotiate")
	reg := open(t, []string{foreignDir})
	notes := strings.Join(reg.Notes(), "\n")
	for _, want := range []string{
		`plugin foreign: command "count": parameter "note" declares no type`,
		`plugin foreign: command "count": parameter "colour" has type 99, which this cajon does not know`,
	} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
	params := map[string]any{"steps": 1, "delay_ms": 1, "colour": map[string]any{"r": 1, "g": []any{"x", nil}}, "note": nil}
	if err := reg.CheckParams("count", params, true); err != nil {
		t.Fatalf("a job with the parameter is refused: %v", err)
	}
	if res := reg.Run(context.Background(), req("count", params), nil); res.Status != plugins.Completed {
		t.Fatalf("run: %v", res)
	}
}

// CheckConfig judges each [plugins.NAME] table against what the plugins
// found over real gRPC declared: typos, types, required keys and tables for
// no plugin are errors; an old plugin's table passes as before, noted.
func TestCheckConfig(t *testing.T) {
	execDir := filepath.Join(binDir, "plugins") // exec: no table; testkit: no schema
	tests := []struct {
		name   string
		dirs   []string
		mode   string
		config map[string]map[string]any
		sha256 map[string]string
		want   []string // substrings of the error; none = no error
		log    string   // a substring of the host's log
	}{
		{name: "a table that fits", dirs: []string{foreignDir}, mode: "negotiate",
			config: map[string]map[string]any{"foreign": {"root": "/srv", "depth": int64(3)}}},
		{name: "a typo in a key", dirs: []string{foreignDir}, mode: "negotiate",
			config: map[string]map[string]any{"foreign": {"root": "/srv", "dpeth": int64(3)}},
			want:   []string{`[plugins.foreign] in cajon.toml: unknown key "dpeth" (did you mean "depth"?); plugin foreign accepts depth, labels, root`}},
		{name: "a wrong type", dirs: []string{foreignDir}, mode: "negotiate",
			config: map[string]map[string]any{"foreign": {"root": "/srv", "depth": "three"}},
			want:   []string{`key "depth": expected an integer, got a string ("three")`}},
		{name: "a required key without a table", dirs: []string{foreignDir}, mode: "negotiate",
			want: []string{`[plugins.foreign] in cajon.toml: key "root" is required (string: Folder the counts are written under.)`}},
		{name: "a table for no plugin", dirs: []string{execDir},
			config: map[string]map[string]any{"exce": {"x": int64(1)}, "blender": {"exe": "b"}},
			want: []string{
				"[plugins.blender] in cajon.toml: there is no plugin blender (no cajon-plugin-blender in the plugin folders; found: exec, testkit)\n",
				`[plugins.exce] in cajon.toml: there is no plugin exce (no cajon-plugin-exce in the plugin folders; found: exec, testkit): did you mean [plugins.exec]?`,
			}},
		{name: "an SDK plugin that takes no table", dirs: []string{execDir},
			config: map[string]map[string]any{"exec": {"shell": "bash"}},
			want:   []string{`[plugins.exec] in cajon.toml: unknown key "shell": plugin exec takes no configuration`}},
		{name: "an old plugin's table passes unchecked", dirs: []string{foreignDir},
			config: map[string]map[string]any{"foreign": {"anything": int64(1)}},
			log:    "plugin foreign declares no config schema (it was built before plugins could): its [plugins.foreign] table is passed on unchecked"},
		{name: "an SDK plugin without a schema is an old plugin too", dirs: []string{execDir},
			config: map[string]map[string]any{"testkit": {"anything": int64(1)}},
			log:    "plugin testkit declares no config schema"},
		{name: "a plugin left out is not judged", dirs: []string{foreignDir}, mode: "negotiate",
			sha256: map[string]string{"exec": strings.Repeat("0", 64)},
			config: map[string]map[string]any{"foreign": {"dpeth": int64(3)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CAJON_FOREIGN_MODE", tt.mode)
			var logs lockedBuffer
			reg := open(t, tt.dirs, func(o *plugins.Options) {
				o.Config, o.SHA256 = tt.config, tt.sha256
				o.Logger = hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Info})
			})
			err := reg.CheckConfig()
			if len(tt.want) == 0 && err != nil {
				t.Fatalf("CheckConfig: %v", err)
			}
			if len(tt.want) > 0 && (err == nil || !strings.HasPrefix(err.Error(), "the [plugins.*] tables of cajon.toml do not fit the plugins:\n  ")) {
				t.Fatalf("CheckConfig: %v, want the problems after the headline", err)
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("the error lacks %q:\n%v", want, err)
				}
			}
			if !strings.Contains(logs.String(), tt.log) {
				t.Errorf("the log lacks %q:\n%s", tt.log, logs.String())
			}
		})
	}
}

// The describe cache keeps the negotiated fields, so a plugin that is not
// started still has its table checked; a file from before the negotiation,
// or one that answered another host, is not trusted.
func TestDescribeCacheKeepsTheNegotiation(t *testing.T) {
	t.Setenv("CAJON_FOREIGN_MODE", "negotiate")
	cache := filepath.Join(t.TempDir(), "described.json")
	typo := map[string]map[string]any{"foreign": {"root": "/srv", "dpeth": int64(3)}}
	withCache := func(o *plugins.Options) { o.DescribeCache, o.Config = cache, typo }
	open(t, []string{foreignDir}, withCache).Close()

	cached := open(t, []string{foreignDir}, withCache)
	if len(cached.Processes()) != 0 {
		t.Fatal("an unchanged plugin was started")
	}
	if d := cached.Plugins()[0]; !slices.Contains(d.Capabilities, "previews") || !d.ConfigDeclared || len(d.Config) != 3 {
		t.Fatalf("the cache lost the negotiated fields: %v", d)
	}
	if err := cached.CheckConfig(); err == nil || !strings.Contains(err.Error(), `unknown key "dpeth"`) {
		t.Fatalf("a cached plugin's table is not checked: %v", err)
	}
	cached.Close()

	var file struct {
		Format  int                        `json:"format"`
		Request json.RawMessage            `json:"request"`
		Entries map[string]json.RawMessage `json:"entries"`
	}
	raw, err := os.ReadFile(cache)
	if err != nil || json.Unmarshal(raw, &file) != nil || len(file.Entries) != 1 {
		t.Fatalf("cache file %s: %v", raw, err)
	}
	tests := []struct {
		name string
		file any
	}{
		{"a file from before the negotiation (a bare map of entries)", file.Entries},
		{"a file that answered another host", map[string]any{"format": file.Format, "request": map[string]any{"hostVersion": "v0.0.1"}, "entries": file.Entries}},
		{"a file of another format", map[string]any{"format": file.Format + 1, "request": file.Request, "entries": file.Entries}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := json.Marshal(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(cache, raw, 0o644); err != nil {
				t.Fatal(err)
			}
			reg := open(t, []string{foreignDir}, withCache)
			if len(reg.Processes()) != 1 {
				t.Fatalf("the plugin was not described afresh: %v", reg.Processes())
			}
		})
	}
}
