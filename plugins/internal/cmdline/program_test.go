package cmdline

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// fakeProgram writes an executable file named name into dir.
func fakeProgram(t *testing.T, dir, name string) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestProgramFind(t *testing.T) {
	bin := t.TempDir()
	inPath := fakeProgram(t, bin, "blender")
	other := fakeProgram(t, bin, "blender-4.2")
	elsewhere := fakeProgram(t, t.TempDir(), "myblender")
	tools := t.TempDir()
	bundled := fakeProgram(t, tools, "blender-bundled")
	missing := filepath.Join(tools, "blender-missing")
	t.Setenv("PATH", bin)

	tests := []struct {
		name    string
		p       Program
		want    string
		wantErr string
	}{
		{"nothing given: PATH", Program{}, inPath, ""},
		{"param is the default name: PATH", Program{Param: "blender"}, inPath, ""},
		{"param is the default name, config wins", Program{Param: "blender", Configured: elsewhere}, elsewhere, ""},
		{"config path", Program{Configured: elsewhere}, elsewhere, ""},
		{"config bare name", Program{Configured: "blender-4.2"}, other, ""},
		{"param path beats config", Program{Param: elsewhere, Configured: other}, elsewhere, ""},
		{"param bare name", Program{Param: "blender-4.2", Configured: elsewhere}, other, ""},
		{"param path missing", Program{Param: "/nonexistent/blender"}, "", "task's exe parameter: /nonexistent/blender does not exist"},
		{"param name missing", Program{Param: "blender-9"}, "", `task's exe parameter: "blender-9" is not in PATH`},
		{"param is a directory", Program{Param: bin + "/"}, "", "is a directory"},
		{"config missing", Program{Configured: "/opt/none/blender"}, "", "[plugins.blender] exe in cajon.toml: /opt/none/blender does not exist"},
		{"relative path against Dir", Program{Param: "./myblender", Dir: filepath.Dir(elsewhere)}, "./myblender", ""},
		{"bundled before PATH", Program{Bundled: []string{missing, bundled}}, bundled, ""},
		{"param is the default name: bundled", Program{Param: "blender", Bundled: []string{bundled}}, bundled, ""},
		{"config beats bundled", Program{Configured: elsewhere, Bundled: []string{bundled}}, elsewhere, ""},
		{"param path beats bundled", Program{Param: other, Bundled: []string{bundled}}, other, ""},
		{"no bundled one: PATH", Program{Bundled: []string{missing, tools}}, inPath, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.p.Name, tt.p.Plugin = "blender", "blender"
			got, err := tt.p.Find()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Find() = %q, %v; want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Find(): %v", err)
			}
			if got != tt.want {
				t.Errorf("Find() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestProgramNotFoundSaysWhereItLooked(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := Program{Name: "blender", Plugin: "blender", Param: "blender"}.Find()
	if err == nil {
		t.Fatal("Find() found a blender in an empty PATH")
	}
	for _, want := range []string{`exe parameter is just "blender"`, "[plugins.blender] exe is not set", "not in PATH"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}
