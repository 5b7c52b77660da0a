//go:build unix

package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/internal/testbin"
)

// Examples whose own test runs `cajon plugins check` on them, built as this
// test cannot: outside the repository, or in another language.
var checkedByTheirOwnTest = map[string]string{
	"examples/plugin-outside": "examples/plugin_outside_test.go",
	"examples/python-plugin":  "examples/python-plugin/plugin_test.go",
}

// The program a shipped plugin's examples run: where it is missing, the
// check fails as a render there would, so the test skips that plugin.
var exampleNeeds = map[string]string{
	"plugins/blender": "blender",
}

// TestEveryShippedPluginPassesItsCheck runs `cajon plugins check` on every
// plugin under plugins/ and every example under examples/, built from the
// tree as they ship (issue 18): a plugin added there is checked without
// changing this test.
func TestEveryShippedPluginPassesItsCheck(t *testing.T) {
	root, err := testbin.Root()
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, parent := range []string{"plugins", "examples"} {
		entries, err := os.ReadDir(filepath.Join(root, parent))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.IsDir() && e.Name() != "internal" && e.Name() != "jobs" {
				dirs = append(dirs, parent+"/"+e.Name())
			}
		}
	}
	if len(dirs) < 4 {
		t.Fatalf("found only %v under plugins/ and examples/", dirs)
	}
	pluginDir := filepath.Join(t.TempDir(), "plugins")
	for _, dir := range dirs {
		t.Run(dir, func(t *testing.T) {
			if test, ok := checkedByTheirOwnTest[dir]; ok {
				src, err := os.ReadFile(filepath.Join(root, test))
				if err != nil || !strings.Contains(string(src), `"plugins", "check"`) {
					t.Fatalf("%s is to run `cajon plugins check` on %s: %v", test, dir, err)
				}
				t.Skipf("checked by %s", test)
			}
			if prog, ok := exampleNeeds[dir]; ok {
				if _, err := exec.LookPath(prog); err != nil {
					t.Skipf("%s is not installed (not in PATH): its examples cannot run here; CI installs it", prog)
				}
			}
			// examples/hello-plugin is the plugin "hello".
			bin := filepath.Join(pluginDir, "cajon-plugin-"+strings.TrimSuffix(filepath.Base(dir), "-plugin"))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./"+dir)
			build.Dir = root
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("go build ./%s: %v\n%s", dir, err, out)
			}
			c := newCajon(t)
			out, errOut, code := c.run("plugins", "check", bin, "--grace", "2s")
			if code != 0 || !strings.Contains(out, "PASS: ") {
				t.Fatalf("cajon plugins check %s: exit %d\n%s\n%s", dir, code, out, errOut)
			}
			t.Logf("\n%s", out)
		})
	}
}

// TestPluginsCheckShowsWhyAPluginDiedAtStart: a plugin that dies before its
// handshake (the Python example under a python3 without grpcio) fails the
// handshake row with the end of its stderr, not go-plugin's guess at a
// wrong architecture.
func TestPluginsCheckShowsWhyAPluginDiedAtStart(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "cajon-plugin-py")
	script := "#!/bin/sh\necho 'Traceback (most recent call last):' >&2\necho \"ModuleNotFoundError: No module named 'grpc'\" >&2\nexit 1\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := newCajon(t)
	cmd := c.command(ctx, "plugins", "check", bin)
	raw, _ := cmd.CombinedOutput()
	out := string(raw)
	for _, want := range []string{"handshake", "FAIL", "without writing go-plugin's handshake line", "    ModuleNotFoundError: No module named 'grpc'"} {
		if !strings.Contains(out, want) {
			t.Errorf("the output does not say %q", want)
		}
	}
	if strings.Contains(out, "not compiled for this architecture") {
		t.Error("the output guesses at the architecture")
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}
