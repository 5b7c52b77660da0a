package plugins

import (
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/sdk"
	pluginv1 "github.com/cajonfarm/cajon/sdk/proto/cajon/plugin/v1"
	"google.golang.org/protobuf/types/known/structpb"
)

// Parameters each under MaxParamBytes can still make a request larger than
// a plugin accepts, with the plugin config and the environment.
func TestCheckRequestSize(t *testing.T) {
	quarter := strings.Repeat("x", sdk.MaxMessageBytes/4)
	cases := []struct {
		name string
		req  *pluginv1.RunRequest
		want string
	}{
		{"small", &pluginv1.RunRequest{Command: "echo", Env: map[string]string{"A": "b"}}, ""},
		{"parameters, config and environment together", &pluginv1.RunRequest{Command: "echo",
			Parameters:   &structpb.Struct{Fields: map[string]*structpb.Value{"a": structpb.NewStringValue(quarter), "b": structpb.NewStringValue(quarter)}},
			PluginConfig: &structpb.Struct{Fields: map[string]*structpb.Value{"c": structpb.NewStringValue(quarter)}},
			Env:          map[string]string{"D": quarter}},
			`command "echo": its request (parameters, [plugins.*] config and environment together) is 16.0 MiB`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := checkRequestSize(tc.req)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "more than the 16.0 MiB (16777216 bytes) a plugin accepts")):
				t.Fatalf("error %v, want it to say %q and the limit", err, tc.want)
			}
		})
	}
}
