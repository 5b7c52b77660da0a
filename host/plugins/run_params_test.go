package plugins

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	pluginv1 "github.com/cajonfarm/cajon/sdk/proto/cajon/plugin/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// TestRequestCarriesNormalisedParameters checks what goes on the wire to a
// plugin: the parameters normalised against its description, so a plugin
// written without the Go SDK gets strings in a list of strings.
func TestRequestCarriesNormalisedParameters(t *testing.T) {
	spec := &pluginv1.CommandSpec{Name: "frames-to-video", Params: []*pluginv1.ParamSpec{
		{Name: "exe", Type: pluginv1.ParamType_PARAM_TYPE_STRING},
		{Name: "fps", Type: pluginv1.ParamType_PARAM_TYPE_NUMBER, Required: true},
		{Name: "args", Type: pluginv1.ParamType_PARAM_TYPE_STRING_LIST},
		{Name: "env", Type: pluginv1.ParamType_PARAM_TYPE_STRING_MAP},
	}}
	p := &Plugin{name: "ffmpeg", info: &pluginv1.DescribeResponse{Name: "ffmpeg", Commands: []*pluginv1.CommandSpec{spec}}}
	r := &Registry{plugins: map[string]*Plugin{"ffmpeg": p}, commands: map[string]*Plugin{"frames-to-video": p}}

	tests := []struct {
		name, params string
		want         string // the RunRequest's parameters as JSON
		err          string
	}{
		{"the Manager's stock preview-video", `{"exe": "ffmpeg", "fps": 23.976, "args": ["-r", 23.976, "-y", true], "env": {"N": 2}}`,
			`{"args":["-r","23.976","-y","true"],"env":{"N":"2"},"exe":"ffmpeg","fps":23.976}`, ""},
		{"undeclared parameters pass through", `{"fps": 24, "extra": [1, null]}`, `{"extra":[1,null],"fps":24}`, ""},
		{"nulls are left out", `{"fps": 24, "args": null}`, `{"fps":24}`, ""},
		{"a table in a list fails before the plugin runs", `{"fps": 24, "args": ["-r", {"x": 1}]}`, "",
			`command "frames-to-video": parameter "args": expected a list of strings, but element 1 is a table ({"x":1})`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var params map[string]any
			if err := json.Unmarshal([]byte(tt.params), &params); err != nil {
				t.Fatal(err)
			}
			rreq, err := r.buildRequest(context.Background(), "ffmpeg", Request{Command: "frames-to-video", Params: params}, "")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want an error containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			raw, err := protojson.Marshal(rreq.GetParameters())
			if err != nil {
				t.Fatal(err)
			}
			// protojson's spacing is unstable on purpose: compare decoded.
			var got, want any
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(tt.want), &want); err != nil {
				t.Fatal(err)
			}
			gotJSON, _ := json.Marshal(got)
			wantJSON, _ := json.Marshal(want)
			if string(gotJSON) != string(wantJSON) {
				t.Fatalf("parameters sent %s, want %s", gotJSON, wantJSON)
			}
		})
	}
}
