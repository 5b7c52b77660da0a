package plugins

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	pluginv1 "github.com/cajonfarm/cajon/sdk/proto/cajon/plugin/v1"
	"github.com/cajonfarm/cajon/sdk/wire"
	"google.golang.org/protobuf/types/known/structpb"
)

// Parameters each under MaxParamBytes can still make a request larger than
// a plugin accepts, with the plugin config and the environment.
func TestCheckRequestSize(t *testing.T) {
	quarter := strings.Repeat("x", wire.MaxMessageBytes/4)
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

func TestRunConfigGoesOverThePluginTable(t *testing.T) {
	r := &Registry{opts: Options{
		Config: map[string]map[string]any{"files": {"keep": 1, "allowed_roots": "from the file"}},
		RunConfig: func(_ context.Context, plugin string) (map[string]any, error) {
			switch plugin {
			case "files":
				return map[string]any{"allowed_roots": []string{"/srv"}}, nil
			case "broken":
				return nil, errors.New("the Manager did not answer")
			}
			return nil, nil
		},
	}}
	got, err := r.pluginTable(context.Background(), "files")
	if err != nil || !reflect.DeepEqual(got, map[string]any{"keep": 1, "allowed_roots": []string{"/srv"}}) {
		t.Fatalf("files: %v, %v", got, err)
	}
	if r.opts.Config["files"]["allowed_roots"] != "from the file" {
		t.Fatal("the configured table was changed")
	}
	if got, err := r.pluginTable(context.Background(), "exec"); err != nil || got != nil {
		t.Fatalf("exec: %v, %v", got, err)
	}
	if _, err := r.buildRequest(context.Background(), "broken", Request{Command: "x"}, ""); err == nil || !strings.Contains(err.Error(), `command "x": the Manager did not answer`) {
		t.Fatalf("broken: %v", err)
	}
}
