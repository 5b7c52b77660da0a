//go:build unix

package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// updateGolden rewrites testdata/golden/ from what the commands print now:
// go test ./cmd/cajon/ -run TestMessages -update
var updateGolden = flag.Bool("update", false, "rewrite the golden files of TestMessages")

// normalize replaces what changes from run to run (paths; with times, also
// times, durations and pids) so the rest of a message is compared exactly.
func normalize(c *cajon, s string, times bool) string {
	s = strings.ReplaceAll(s, c.state, "$STATE")
	s = strings.ReplaceAll(s, c.dir, "$DIR")
	s = strings.ReplaceAll(s, binDir, "$BIN")
	if !times {
		return s
	}
	for _, r := range []struct{ re, with string }{
		{`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})`, "<TIME>"},
		{`\d{4}-\d{2}-\d{2} \d{2}:\d{2}`, "<DATE TIME>"},
		{`\b\d{2}:\d{2}:\d{2}\b`, "<CLOCK>"},
		{`\(in [0-9dhms.]+\)`, "(in <DURATION>)"},
		{`after [0-9.]+(ms|s|µs)`, "after <DURATION>"},
		{`pid \d+`, "pid <PID>"},
	} {
		s = regexp.MustCompile(r.re).ReplaceAllString(s, r.with)
	}
	return s
}

// golden compares got with testdata/golden/<name>.txt.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".txt")
	if *updateGolden {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s:\n--- got\n%s--- want\n%s", name, path, got, want)
	}
}

// TestMessages checks the exact text of messages a newcomer meets first.
func TestMessages(t *testing.T) {
	c := newCajon(t)
	tick := c.writeJob("tick.toml", "name = \"tick\"\n[[tasks]]\nname = \"t\"\n[[tasks.commands]]\nname = \"echo\"\nparameters = { message = \"tick\" }\n")
	later := c.writeJob("later.toml", "name = \"later\"\npriority = 70\n[[tasks]]\nname = \"t\"\n[[tasks.commands]]\nname = \"echo\"\nparameters = { message = \"later\" }\n")
	tests := []struct {
		name string
		args []string
		// stderrOnly: stdout varies (plugin versions and paths).
		stderrOnly bool
		// times: the output has times, durations or pids to normalize.
		times bool
	}{
		{"submit-every-space", []string{"local", "submit", tick, "--every", "1", "h"}, false, false},
		{"submit-every-space-first", []string{"local", "submit", "--every", "1", "h", tick}, false, false},
		{"submit-at-space", []string{"local", "submit", tick, "--at", "2030-12-23", "01:00"}, false, false},
		{"submit-two-files", []string{"local", "submit", tick, later}, false, false},
		{"submit-no-file", []string{"local", "submit"}, false, false},
		{"show-two-ids", []string{"local", "show", "1", "2"}, false, false},
		{"submit-at-too-far", []string{"local", "submit", tick, "--at", "2300-01-01T00:00:00Z"}, false, true},
		{"submit-every-too-long", []string{"local", "submit", tick, "--every", "100000d"}, false, false},
		{"submit-every-overflow", []string{"local", "submit", tick, "--every", "100000d200000h"}, false, false},
		{"submit-every-too-short", []string{"local", "submit", tick, "--every", "500ms"}, false, false},
		{"submit-every-days", []string{"local", "submit", tick, "--every", "1d12h"}, false, false},
		{"submit-every-duplicate", []string{"local", "submit", tick, "--every", "36h"}, false, false},
		{"submit-later", []string{"local", "submit", later, "--at", "+50h"}, false, true},
		{"list", []string{"local", "list"}, false, true},
		{"plugin-dir-missing", []string{"plugins", "--plugin-dir", "/nonexistent/cajon-plugins"}, true, true},
		{"plugins-run-failure", []string{"plugins", "run", "exec", "--params", `{"exe": "sh", "args": ["-c", "echo first; echo second; exit 3"]}`}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := c.run(tt.args...)
			var b strings.Builder
			fmt.Fprintf(&b, "$ cajon %s\nexit %d\n", strings.Join(tt.args, " "), code)
			if !tt.stderrOnly {
				fmt.Fprintf(&b, "-- stdout --\n%s", stdout)
			}
			fmt.Fprintf(&b, "-- stderr --\n%s", stderr)
			golden(t, tt.name, normalize(c, b.String(), tt.times))
		})
	}
}

// TestVersionFlags: --version and -v are `cajon version`, with or without a
// Manager configured (which makes plain flags mean `cajon run`).
func TestVersionFlags(t *testing.T) {
	c := newCajon(t)
	version := func(arg string) (string, error) {
		cmd := c.command(t.Context(), arg)
		cmd.Args = cmd.Args[:2] // without --state-dir
		out, err := cmd.Output()
		return string(out), err
	}
	want, err := version("version")
	if err != nil || !strings.HasPrefix(want, "cajon ") {
		t.Fatalf("cajon version: %v, printed %q", err, want)
	}
	c.env = append(c.env, "CAJON_MANAGER_URL=http://127.0.0.1:1")
	for _, flag := range []string{"--version", "-version", "-v", "-V"} {
		if got, err := version(flag); err != nil || got != want {
			t.Errorf("cajon %s: %v, printed %q; want %q", flag, err, got, want)
		}
	}
}

// TestSystemdUnitStateDirIsPrivate: the example unit makes the state
// directory 0700, not systemd's default 0755: it holds task logs.
func TestSystemdUnitStateDirIsPrivate(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "examples", "cajon-worker.service"))
	if err != nil {
		t.Fatal(err)
	}
	unit := string(raw)
	if !regexp.MustCompile(`(?m)^StateDirectory=cajon$`).MatchString(unit) || !regexp.MustCompile(`(?m)^StateDirectoryMode=0700$`).MatchString(unit) {
		t.Errorf("examples/cajon-worker.service lacks StateDirectory=cajon with StateDirectoryMode=0700")
	}
}
