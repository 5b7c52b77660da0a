package config

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestTrustSettings(t *testing.T) {
	cfg, _, err := Load(Sources{Files: []FileSource{{Path: filepath.Join("testdata", "trust.toml")}}, Environ: baseEnv})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/srv/flamenco", "/tmp"}; !reflect.DeepEqual(cfg.Files.AllowedRoots, want) {
		t.Errorf("allowed roots %v, want %v", cfg.Files.AllowedRoots, want)
	}
	digests := cfg.PluginDigests()
	if len(digests) != 2 || !strings.HasPrefix(digests["exec"], "9B1C") || !strings.HasPrefix(digests["files"], "44d0") {
		t.Errorf("digests %v", digests)
	}
	if tables := cfg.PluginTables(); len(tables) != 1 || tables["exec"]["shell"] != "/bin/sh" {
		t.Errorf("plugin tables %v: want only exec, without the allowlist", tables)
	}
	if got := (&Config{}).PluginDigests(); got != nil {
		t.Errorf("no allowlist: %v, want nil", got)
	}

	env := append(append([]string(nil), baseEnv...), "CAJON_FILES_ALLOWED_ROOTS=/a, /b")
	cfg, _, err = Load(Sources{Environ: env})
	if err != nil || !reflect.DeepEqual(cfg.Files.AllowedRoots, []string{"/a", "/b"}) {
		t.Errorf("from the environment: %v, %v", cfg.Files.AllowedRoots, err)
	}
}

func TestTrustSettingErrors(t *testing.T) {
	_, _, err := Load(Sources{Files: []FileSource{{Path: filepath.Join("testdata", "trust_bad.toml")}}, Environ: baseEnv})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`files.allowed_roots = ['srv/flamenco', ''] (file testdata/trust_bad.toml): "srv/flamenco" is not an absolute path`,
		"files.allowed_roots = ['srv/flamenco', ''] (file testdata/trust_bad.toml): a folder is empty",
		"plugins.sha256.exec = 'abc' (file testdata/trust_bad.toml): must be the plugin binary's sha256 as 64 hexadecimal digits",
		"plugins.sha256.files = 42",
		"plugins.files.allowed_roots = ['/'] (file testdata/trust_bad.toml): the host sets this from files.allowed_roots: set that instead",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error\n%v\ndoes not say\n%s", err, want)
		}
	}
}
