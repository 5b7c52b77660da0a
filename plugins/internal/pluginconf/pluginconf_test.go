package pluginconf

import (
	"encoding/json"
	"strings"
	"testing"
)

// table is a config table as the host sends it; it decodes like sdk.Run's
// PluginConfig (through JSON).
type table map[string]any

func (t table) PluginConfig(v any) error {
	if len(t) == 0 {
		return nil
	}
	raw, err := json.Marshal(map[string]any(t))
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

type testConfig struct {
	Exe      string `json:"exe"`
	Previews bool   `json:"previews"`
	Hidden   string `json:"-"`
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name    string
		table   table
		want    testConfig
		wantErr string
	}{
		{"absent table keeps defaults", nil, testConfig{Previews: true}, ""},
		{"values", table{"exe": "/opt/blender/blender", "previews": false}, testConfig{Exe: "/opt/blender/blender"}, ""},
		{"partial", table{"exe": "blender-4.2"}, testConfig{Exe: "blender-4.2", Previews: true}, ""},
		{"typo", table{"exe_path": "/x", "preview": true}, testConfig{}, "[plugins.blender] in cajon.toml: unknown key exe_path, preview (known keys: exe, previews)"},
		{"json-hidden field is not a key", table{"Hidden": "x"}, testConfig{}, "unknown key Hidden"},
		{"wrong type", table{"previews": "yes"}, testConfig{}, "[plugins.blender] in cajon.toml:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := testConfig{Previews: true}
			err := Decode(tt.table, "blender", &got)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Decode() = %v, want error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Decode() = %+v, want %+v", got, tt.want)
			}
		})
	}
}
