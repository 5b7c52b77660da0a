package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The example and the reference live outside this package; these tests keep them in
// step with the settings.
var (
	examplePath = filepath.Join("..", "..", "examples", "cajon.toml")
	docsPath    = filepath.Join("..", "..", "docs", "CONFIG.md")
)

// TestExampleFile checks that examples/cajon.toml loads as it is, and that with its
// "#key = value" lines uncommented it sets every key to its default.
func TestExampleFile(t *testing.T) {
	cfg, _, err := Load(Sources{Files: []FileSource{{Path: examplePath, Required: true}}, Environ: baseEnv})
	if err != nil {
		t.Fatalf("example as shipped: %v", err)
	}
	if want := computedDefaults(t); !reflect.DeepEqual(*cfg, want) {
		t.Errorf("example as shipped is not all defaults:\n got %+v\nwant %+v", *cfg, want)
	}

	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	uncommented := regexp.MustCompile(`(?m)^#([a-z0-9_]+ = )`).ReplaceAll(data, []byte("$1"))
	path := filepath.Join(t.TempDir(), "cajon.toml")
	if err := os.WriteFile(path, uncommented, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, prov, err := Load(Sources{Files: []FileSource{{Path: path}}, Environ: baseEnv})
	if err != nil {
		t.Fatalf("example uncommented: %v", err)
	}
	if want := computedDefaults(t); !reflect.DeepEqual(*cfg, want) {
		t.Errorf("example's commented values are not the defaults:\n got %+v\nwant %+v", *cfg, want)
	}
	for _, key := range Keys() {
		if prov.Of(key) == "default" && key != "state_dir" && key != "manager.worker_name" {
			t.Errorf("examples/cajon.toml has no #%s line", key)
		}
	}
}

// TestDocsListEveryKey checks docs/CONFIG.md has a row for every key with its
// environment variable and its default.
func TestDocsListEveryKey(t *testing.T) {
	data, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	defaults := Defaults()
	for _, s := range settings() {
		leaf := s.key[strings.LastIndex(s.key, ".")+1:]
		env := "`" + EnvVar(s.key) + "`"
		row := ""
		for _, line := range lines {
			if strings.HasPrefix(line, "| `"+leaf+"` |") && strings.Contains(line, env) {
				row = line
			}
		}
		if row == "" {
			t.Errorf("docs/CONFIG.md has no row for %s with %s", s.key, env)
			continue
		}
		if s.key == "state_dir" || s.key == "manager.worker_name" {
			continue // computed defaults, described in words
		}
		if want := docDefault(reflectValue(s.field(&defaults))); !strings.Contains(row, want) {
			t.Errorf("docs/CONFIG.md row of %s does not give the default %s:\n%s", s.key, want, row)
		}
	}
}

// docDefault writes a default the way docs/CONFIG.md does.
func docDefault(value any) string {
	switch v := value.(type) {
	case string:
		return "`" + strconv.Quote(v) + "`"
	case time.Duration:
		return "`" + strconv.Quote(durationString(v)) + "`"
	case []string:
		return "`[]`"
	}
	return fmt.Sprintf("`%v`", value)
}
