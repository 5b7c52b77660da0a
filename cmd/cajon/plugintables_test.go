//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPluginTablesAreCheckedAtStart: a [plugins.NAME] table that does not
// fit its plugin's declared schema, or names no plugin, stops every command
// that starts the plugins before any task runs; `cajon plugins` lists first
// (the keys each plugin accepts are the fix) and then fails.
func TestPluginTablesAreCheckedAtStart(t *testing.T) {
	tables := []struct {
		name, toml string
		want       []string // in stderr; none = the table is fine
	}{
		{"fine", "[plugins.testkit]\nanything = 1\n", nil}, // testkit declares no schema: unchecked
		{"a key for a plugin that takes none", "[plugins.exec]\nshell = \"bash\"\n",
			[]string{`[plugins.exec] in cajon.toml: unknown key "shell": plugin exec takes no configuration`}},
		{"a table for no plugin", "[plugins.exce]\nx = 1\n",
			[]string{`[plugins.exce] in cajon.toml: there is no plugin exce (no cajon-plugin-exce in the plugin folders; found: exec, testkit): did you mean [plugins.exec]?`}},
	}
	commands := []struct {
		name string
		args []string
	}{
		{"plugins", []string{"plugins"}},
		{"plugins run", []string{"plugins", "run", "echo", "--params", `{"message": "hi"}`}},
		{"local run (the daemon)", []string{"local", "run", "--until-idle", "--plain"}},
		{"run (the Manager is never reached)", []string{"run", "--manager", "http://127.0.0.1:1"}},
	}
	for _, tb := range tables {
		for _, cmd := range commands {
			if tb.want == nil && cmd.name == "run (the Manager is never reached)" {
				continue // a fine table would have it wait for the Manager
			}
			t.Run(tb.name+"/"+cmd.name, func(t *testing.T) {
				c := newCajon(t)
				file := filepath.Join(c.dir, "cajon.toml")
				if err := os.WriteFile(file, []byte(tb.toml), 0o600); err != nil {
					t.Fatal(err)
				}
				stdout, stderr, code := c.run(append(cmd.args, "--config", file)...)
				if tb.want == nil {
					if code != 0 {
						t.Fatalf("exit %d\n%s", code, stderr)
					}
					return
				}
				if code == 0 {
					t.Fatalf("exit 0, want a refusal\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
				}
				for _, want := range append(tb.want, "the [plugins.*] tables of cajon.toml do not fit the plugins") {
					if !strings.Contains(stderr, want) {
						t.Errorf("stderr lacks %q:\n%s", want, stderr)
					}
				}
				if cmd.name == "plugins" && !strings.Contains(stdout, "[plugins.exec]  takes no table") {
					t.Errorf("`cajon plugins` must list before it fails:\n%s", stdout)
				}
			})
		}
	}
}
