package main

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	pluginv1 "github.com/cajonfarm/cajon/sdk/proto/cajon/plugin/v1"
	"github.com/cajonfarm/cajon/sdk/sdktest"
	"github.com/cajonfarm/cajon/sdk/wire"
)

// The [plugins.blender] schema the plugin declares to the host is the table
// loadConfig reads: the same keys, every documented value of the right type,
// and defaults that read back as the plugin's own defaults.
func TestDeclaredConfigSchema(t *testing.T) {
	d := sdktest.Describe(t, plugin(newSessions()))
	if !d.GetTypedCapabilities().GetPreviews() {
		t.Error("the blender plugin makes previews: it must say so")
	}
	keys := map[string]*pluginv1.ParamSpec{}
	defaults := table{}
	for _, k := range d.GetConfigSchema().GetKeys() {
		keys[k.GetName()] = k
		if k.GetDescription() == "" {
			t.Errorf("key %q has no description", k.GetName())
		}
		if v := k.GetDefaultValue(); v != nil {
			defaults[k.GetName()] = v.AsInterface()
		}
	}
	want := []string{"exe", "fail_on_error_lines", "fail_on_missing_files", "previews", "preview_ffmpeg",
		"exit_timeout", "warm_sessions", "warm_idle", "warm_max_tasks", "warm_max_rss", "warm_max_sessions"}
	if got := slices.Sorted(maps.Keys(keys)); !reflect.DeepEqual(got, slices.Sorted(slices.Values(want))) {
		t.Fatalf("declared keys %v, want %v", got, want)
	}

	// The defaults as declared decode to the defaults the plugin uses.
	cfg, err := loadConfig(defaults)
	if err != nil {
		t.Fatalf("the declared defaults %v do not load: %v", defaults, err)
	}
	if cfg != defaultConfig() {
		t.Errorf("declared defaults load as %+v, want %+v", cfg, defaultConfig())
	}

	// Every value docs/PLUGINS-RENDER.md shows fits its declared type.
	documented := table{
		"exe": "/opt/blender-4.2/blender", "fail_on_error_lines": true, "fail_on_missing_files": true,
		"previews": true, "preview_ffmpeg": "ffmpeg", "exit_timeout": "60s", "warm_sessions": true, "warm_idle": "60s",
		"warm_max_tasks": int64(100), "warm_max_rss": "50%", "warm_max_sessions": int64(3),
	}
	also := table{"exit_timeout": int64(0), "warm_idle": int64(90), "warm_max_rss": int64(1 << 20)} // seconds, bytes
	for _, tb := range []table{documented, also} {
		for k, v := range tb {
			if err := wire.CheckValue(keys[k].GetType(), v); err != nil {
				t.Errorf("key %q = %#v: %v", k, v, err)
			}
		}
		if _, err := loadConfig(tb); err != nil {
			t.Errorf("%v: %v", tb, err)
		}
	}
}

// TestWarmMaxSessionsConfig: [plugins.blender] warm_max_sessions, its
// default, and a value that makes no sense.
func TestWarmMaxSessionsConfig(t *testing.T) {
	tests := []struct {
		name    string
		table   table
		want    int
		wantErr string
	}{
		{"default", nil, defaultWarmMaxSessions, ""},
		{"set", table{"warm_max_sessions": 5}, 5, ""},
		{"one", table{"warm_max_sessions": 1}, 1, ""},
		{"zero", table{"warm_max_sessions": 0}, 0, "warm_max_sessions must be at least 1, not 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := loadConfig(tt.table)
			switch {
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tt.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case cfg.WarmMaxSessions != tt.want:
				t.Errorf("warm_max_sessions = %d, want %d", cfg.WarmMaxSessions, tt.want)
			}
		})
	}
}
