//go:build unix

package winetest

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/internal/wine"
)

// TestPluginsListed: `cajon.exe plugins` starts every plugin and lists its
// commands, and a plugin folder named again in --plugin-dir, however
// spelled, is not reported as shadowing itself.
func TestPluginsListed(t *testing.T) {
	env.Require(t)
	plugins := wine.WinPath(filepath.Join(env.Bin, "plugins"))
	tests := []struct {
		name  string
		flags []string
	}{
		{"default folder", nil},
		{"named again", []string{"--plugin-dir", plugins}},
		{"named again, other case and slashes", []string{"--plugin-dir", strings.ReplaceAll(strings.ToLower(plugins), `\`, "/")}},
		{"named again, trailing backslash", []string{"--plugin-dir", plugins + `\`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHost(t)
			out := h.run(t, append([]string{"plugins"}, tt.flags...)...)
			for _, want := range []string{"exec 1.0.0", "files 1.0.0", "echo", "make-directory", "copy-file", "move-directory"} {
				if !strings.Contains(out, want) {
					t.Errorf("cajon.exe plugins does not list %q:\n%s", want, out)
				}
			}
			for _, bad := range []string{"did not start", "shadowed by", "left out", "WARN"} {
				if strings.Contains(out, bad) {
					t.Errorf("cajon.exe plugins says %q:\n%s", bad, out)
				}
			}
		})
	}
}

// TestPluginsCheck: the shipped plugins keep the plugin protocol on Windows:
// handshake, commands, cancel of a tree, exit when the lifeline closes, and
// nothing left behind.
func TestPluginsCheck(t *testing.T) {
	env.Require(t)
	for _, plugin := range []string{"exec", "files"} {
		t.Run(plugin, func(t *testing.T) {
			h := newHost(t)
			out := h.run(t, "plugins", "check", plugin)
			if strings.Contains(out, "FAIL") {
				t.Errorf("cajon.exe plugins check %s failed a check:\n%s", plugin, out)
			}
			h.requireNoProcesses(t)
		})
	}
}
