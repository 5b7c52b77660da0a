package config

import (
	"os"
	"path/filepath"
	"testing"
)

// TestStockWorkerNameVariable checks FLAMENCO_WORKER_NAME's place: below
// every Cajon layer, above the host name, as the stock worker has it below
// its worker_name.
func TestStockWorkerNameVariable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "cajon.toml")
	if err := os.WriteFile(file, []byte("[manager]\nworker_name = \"from-file\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		files    []FileSource
		env      []string
		flags    map[string]string
		want     string
		wantFrom string
	}{
		{"unset: the host name at start", nil, nil, nil, "", "default"},
		{"the variable", nil, []string{"FLAMENCO_WORKER_NAME= render-07 "}, nil, "render-07", "env FLAMENCO_WORKER_NAME"},
		{"blank variable is unset", nil, []string{"FLAMENCO_WORKER_NAME=  "}, nil, "", "default"},
		{"a file wins", []FileSource{{Path: file}}, []string{"FLAMENCO_WORKER_NAME=render-07"}, nil, "from-file", "file " + file},
		{"CAJON_ wins", nil, []string{"FLAMENCO_WORKER_NAME=render-07", "CAJON_MANAGER_WORKER_NAME=cajon-name"}, nil, "cajon-name", "env CAJON_MANAGER_WORKER_NAME"},
		{"a flag wins", nil, []string{"FLAMENCO_WORKER_NAME=render-07"}, map[string]string{"manager.worker_name": "flag-name"}, "flag-name", "flag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, prov, err := Load(Sources{Files: tt.files, Environ: append(append([]string{}, baseEnv...), tt.env...), Flags: tt.flags})
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Manager.WorkerName != tt.want || prov.Of("manager.worker_name") != tt.wantFrom {
				t.Errorf("worker_name %q from %q, want %q from %q", cfg.Manager.WorkerName, prov.Of("manager.worker_name"), tt.want, tt.wantFrom)
			}
		})
	}
}
