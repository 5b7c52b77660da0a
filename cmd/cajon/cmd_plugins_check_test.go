//go:build unix

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTerminalReporterShowsSteps: `plugins run` shows the task's steps as a
// bar whenever they or the activity change, not only the activity.
func TestTerminalReporterShowsSteps(t *testing.T) {
	var stdout, stderr bytes.Buffer
	rep := &terminalReporter{env: &cliEnv{stdout: &stdout, stderr: &stderr}, total: 4, steps: -1}
	rep.Progress(0, "starting")
	rep.Progress(-1, "starting") // nothing changed
	rep.Progress(2, "")          // steps only
	rep.Progress(-1, "frame 3")  // activity only
	rep.Progress(4, "")
	want := strings.Join([]string{
		"cajon: ░░░░░░░░░░░░░░░░░░░░ 0/4  starting",
		"cajon: ██████████░░░░░░░░░░ 2/4  starting",
		"cajon: ██████████░░░░░░░░░░ 2/4  frame 3",
		"cajon: ████████████████████ 4/4  frame 3",
	}, "\n") + "\n"
	if stderr.String() != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", stderr.String(), want)
	}
}

func TestPluginsCheck(t *testing.T) {
	broken := filepath.Join(t.TempDir(), "cajon-plugin-broken")
	if err := os.WriteFile(broken, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		binary string
		code   int
		want   string
	}{
		{"a plugin that keeps the protocol, by name", "exec", 0, "PASS: "},
		{"a binary that is no plugin", broken, 1, "FAIL: "},
		{"nothing of that name", "no-such-plugin", 2, `no plugin "no-such-plugin"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCajon(t)
			out, errOut, code := c.run("plugins", "check", tc.binary, "--grace", "2s")
			if code != tc.code || !strings.Contains(out+errOut, tc.want) {
				t.Errorf("exit %d, want %d with %q\nstdout:\n%s\nstderr:\n%s", code, tc.code, tc.want, out, errOut)
			}
		})
	}
}
