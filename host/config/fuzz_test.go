package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary file content to Load: it must never panic, and whatever
// it accepts, Print must write back as a file that loads to the same config.
func FuzzLoad(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "*.toml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range seeds {
		data, err := os.ReadFile(seed)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("[plugins.x]\na = nan\nb = -0.0\nc = 1979-05-27T07:32:00\nd = 07:32:00\n[[plugins.x.e]]\nf = 1\n"))

	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "cajon.toml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, prov, err := Load(Sources{Files: []FileSource{{Path: path}}, Environ: baseEnv})
		if err != nil {
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatal("empty error message")
			}
			return
		}
		first := printed(t, cfg, nil)

		var withOrigins strings.Builder
		if err := Print(&withOrigins, cfg, prov); err != nil {
			t.Fatalf("Print: %v", err)
		}
		reprinted := filepath.Join(dir, "printed.toml")
		if err := os.WriteFile(reprinted, []byte(withOrigins.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		again, _, err := Load(Sources{Files: []FileSource{{Path: reprinted}}, Environ: baseEnv})
		if err != nil {
			t.Fatalf("printed config does not load: %v\n%s", err, withOrigins.String())
		}
		if second := printed(t, again, nil); second != first {
			t.Fatalf("round trip changed the config:\n%s\n---\n%s", first, second)
		}
	})
}

func printed(t *testing.T, cfg *Config, p *Provenance) string {
	t.Helper()
	var out strings.Builder
	if err := Print(&out, cfg, p); err != nil {
		t.Fatalf("Print: %v", err)
	}
	return out.String()
}
