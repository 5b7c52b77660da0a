//go:build unix

package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPluginsVerify(t *testing.T) {
	exec := filepath.Join(binDir, "plugins", "cajon-plugin-exec")
	data, err := os.ReadFile(exec)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	digest := hex.EncodeToString(sum[:])
	wrong := strings.Repeat("0", 64)

	cases := []struct {
		name   string
		config string
		code   int
		want   []string
	}{
		{"no allowlist", "", 0, []string{
			"exec  " + exec + "\n  sha256 " + digest + "\n  ok, not pinned (no plugins.sha256 allowlist)",
			"testkit  ",
		}},
		{"pinned", "[plugins.sha256]\nexec = \"" + digest + "\"\n", 1, []string{
			"  ok, matches plugins.sha256.exec",
			"REFUSED: plugin testkit is not in the plugins.sha256 allowlist",
		}},
		{"another digest", "[plugins.sha256]\nexec = \"" + wrong + "\"\ntestkit = \"" + wrong + "\"\nblender = \"" + wrong + "\"\n", 1, []string{
			"REFUSED: plugin binary " + exec + " does not match plugins.sha256.exec (its sha256 is " + digest + ")",
			"note: plugins.sha256 lists plugin blender, but no cajon-plugin-blender was found",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCajon(t)
			args := []string{"plugins", "verify"}
			if tc.config != "" {
				args = append(args, "--config", c.writeJob("cajon.toml", tc.config))
			}
			out, errOut, code := c.run(args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("stdout does not say %q:\n%s", w, out)
				}
			}
			if code != 0 && !strings.Contains(errOut, "of 2 plugins would be refused") {
				t.Errorf("stderr %q", errOut)
			}
		})
	}
}
