package sdk_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/sdk"
	pluginv1 "github.com/cajonfarm/cajon/sdk/proto/cajon/plugin/v1"
	"github.com/cajonfarm/cajon/sdk/sdktest"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// seconds decodes itself from "30s" and writes itself back the same way.
type seconds time.Duration

func (s *seconds) UnmarshalJSON(b []byte) error {
	var text string
	if err := json.Unmarshal(b, &text); err != nil {
		return err
	}
	d, err := time.ParseDuration(text)
	*s = seconds(d)
	return err
}

func (s seconds) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(s).String()) }

// readOnly decodes itself but cannot write itself back.
type readOnly struct{ n int }

func (r *readOnly) UnmarshalJSON([]byte) error { r.n = 1; return nil }

type fullConfig struct {
	Exe     string            `json:"exe" desc:"Program to run."`
	Retries int               `json:"retries" desc:"Attempts."`
	Ratio   float64           `json:"ratio,omitempty"`
	Strict  bool              `json:"strict"`
	Args    []string          `json:"args"`
	Env     map[string]string `json:"env"`
	Extra   any               `json:"extra"`
	Token   string            `json:"token" config:"required" desc:"API token."`
	Timeout seconds           `json:"timeout" type:"string" desc:"Like \"30s\"."`
	Plain   string            // no json tag: named as encoding/json names it
	Skipped string            `json:"-"`
	hidden  string
}

// The schema a plugin declares is derived from the struct it decodes its
// table into, with its defaults; a struct the host could not describe
// truthfully is refused by Serve (sdktest reports it the same way).
func TestConfigOf(t *testing.T) {
	tests := []struct {
		name   string
		schema sdk.ConfigSchema
		want   string // protojson of the ConfigSchema; "" when err is set
		err    string
	}{
		{"every kind of key, with defaults", sdk.ConfigOf(fullConfig{Retries: 3, Timeout: seconds(time.Minute), Args: []string{"-q"}, hidden: "x"}), `{"keys":[
			{"name":"exe","type":"PARAM_TYPE_STRING","description":"Program to run."},
			{"name":"retries","type":"PARAM_TYPE_INTEGER","defaultValue":3,"description":"Attempts."},
			{"name":"ratio","type":"PARAM_TYPE_NUMBER"},
			{"name":"strict","type":"PARAM_TYPE_BOOL"},
			{"name":"args","type":"PARAM_TYPE_STRING_LIST","defaultValue":["-q"]},
			{"name":"env","type":"PARAM_TYPE_STRING_MAP"},
			{"name":"extra"},
			{"name":"token","type":"PARAM_TYPE_STRING","required":true,"description":"API token."},
			{"name":"timeout","type":"PARAM_TYPE_STRING","defaultValue":"1m0s","description":"Like \"30s\"."},
			{"name":"Plain","type":"PARAM_TYPE_STRING"}]}`, ""},
		{"no table at all", sdk.ConfigOf(struct{}{}), `{}`, ""},
		{"not a struct", sdk.ConfigOf(42), "", "ConfigOf needs a struct, not int"},
		{"a type that decodes itself, without a type tag", sdk.ConfigOf(struct {
			Timeout seconds `json:"timeout"`
		}{}), "", "field Timeout (key \"timeout\"): sdk_test.seconds decodes itself (UnmarshalJSON): say which JSON type it reads in a type tag"},
		{"a type tag that names no type", sdk.ConfigOf(struct {
			Timeout seconds `json:"timeout" type:"duration"`
		}{}), "", `unknown type "duration" in its type tag`},
		{"a default that cannot write itself back", sdk.ConfigOf(struct {
			Limit readOnly `json:"limit" type:"string"`
		}{Limit: readOnly{n: 2}}), "", "has an UnmarshalJSON but no MarshalJSON"},
		{"a default that does not fit its type tag", sdk.ConfigOf(struct {
			Timeout seconds `json:"timeout" type:"boolean"`
		}{Timeout: seconds(time.Second)}), "", `field Timeout (key "timeout"): default: "1s": expected a boolean, got a string ("1s")`},
		{"two fields, one key", sdk.ConfigOf(struct {
			A string
			B string `json:"A"`
		}{}), "", `fields A and B are both key "A"`},
		{"an unknown config option", sdk.ConfigOf(struct {
			A string `json:"a" config:"mandatory"`
		}{}), "", `unknown config tag option "mandatory"`},
		{"an unsupported field type", sdk.ConfigOf(struct {
			A []int `json:"a"`
		}{}), "", "unsupported field type []int"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := sdk.Plugin{Name: "t", Version: "1", Config: tt.schema,
				Commands: []sdk.Command{sdk.NewCommand[allTypes]("all", "misc", "all types")}}
			if tt.err != "" {
				err := sdk.Register(nil, p)
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Register: %v, want an error containing %q", err, tt.err)
				}
				return
			}
			var want pluginv1.ConfigSchema
			if err := protojson.Unmarshal([]byte(tt.want), &want); err != nil {
				t.Fatalf("bad test JSON: %v", err)
			}
			got := sdktest.Describe(t, p).GetConfigSchema()
			if got == nil || !proto.Equal(got, &want) {
				t.Fatalf("config schema\n got %v\nwant %v", got, &want)
			}
		})
	}
}

// A plugin that declares nothing sends no schema (the host then passes its
// table on unchecked), and typed capabilities in any case: an SDK plugin
// knows them, so "previews" false is an answer, not an unknown.
func TestDescribeNegotiatedFields(t *testing.T) {
	tests := []struct {
		name       string
		plugin     sdk.Plugin
		wantSchema bool
		previews   bool
	}{
		{"declares nothing", sdk.Plugin{Name: "t", Version: "1"}, false, false},
		{"previews and an empty table", sdk.Plugin{Name: "t", Version: "1", Config: sdk.ConfigOf(struct{}{}), Capabilities: sdk.Capabilities{Previews: true}}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.plugin.Commands = []sdk.Command{sdk.NewCommand[allTypes]("all", "misc", "all types")}
			d := sdktest.Describe(t, tt.plugin)
			if (d.GetConfigSchema() != nil) != tt.wantSchema {
				t.Errorf("config schema %v, want one: %v", d.GetConfigSchema(), tt.wantSchema)
			}
			if d.GetTypedCapabilities() == nil || d.GetTypedCapabilities().GetPreviews() != tt.previews {
				t.Errorf("typed capabilities %v, want previews %v", d.GetTypedCapabilities(), tt.previews)
			}
			if len(d.GetCapabilities()) != 0 {
				t.Errorf("the deprecated capability names are sent: %v", d.GetCapabilities())
			}
		})
	}
}
