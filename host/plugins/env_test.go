package plugins_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/host/plugins"
)

// TestCommandEnvironmentHasNoPlumbing: a command gets the worker's
// environment, the task's variables and its containment tag, and nothing
// of how its plugin was started and connected: no go-plugin PLUGIN_*
// variable (the AutoMTLS client certificate among them), no handshake
// cookie, no lifeline.
func TestCommandEnvironmentHasNoPlumbing(t *testing.T) {
	t.Setenv("CAJON_TEST_WORKER_VAR", "from the worker")
	reg := open(t, []string{filepath.Join(binDir, "plugins")})
	for _, tc := range []struct {
		name   string
		params map[string]any
	}{
		{"inherited environment", map[string]any{"exe": "/usr/bin/env"}},
		{"the command's own variables", map[string]any{"exe": "/usr/bin/env", "env": map[string]any{"COMMAND_VAR": "own"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c collector
			r := req("exec", tc.params)
			r.Env = map[string]string{"TASK_VAR": "from the task"}
			res := reg.Run(context.Background(), r, &c)
			if res.Status != plugins.Completed {
				t.Fatalf("env: %v\n%s", res, strings.Join(c.lines, "\n"))
			}
			want := []string{"CAJON_TEST_WORKER_VAR=from the worker", "TASK_VAR=from the task", "CAJON_RUN_ID=" + r.RunID + "/1"}
			if _, ok := tc.params["env"]; ok {
				want = append(want, "COMMAND_VAR=own")
			}
			for _, w := range want {
				if !slices.Contains(c.lines, w) {
					t.Errorf("the command's environment lacks %s", w)
				}
			}
			for _, l := range c.lines {
				if strings.HasPrefix(l, "PLUGIN_") || strings.HasPrefix(l, "CAJON_PLUGIN=") ||
					strings.HasPrefix(l, "CAJON_LIFELINE_FD=") || strings.Contains(l, "CERTIFICATE") {
					t.Errorf("the command's environment shows the plugin's plumbing: %.80s", l)
				}
			}
		})
	}
}

// TestCommandInheritsNoLifeline: the lifeline pipe (the plugin's fd 3) is
// the plugin's own; a command that kept it would hold a descriptor of the
// host/plugin contract.
func TestCommandInheritsNoLifeline(t *testing.T) {
	reg := open(t, []string{filepath.Join(binDir, "plugins")})
	var c collector
	res := reg.Run(context.Background(), req("exec", map[string]any{
		"exe": "/bin/sh", "args": []any{"-c", `lifeline=$(readlink /proc/$PPID/fd/3); echo "lifeline $lifeline"
for f in /proc/$$/fd/*; do [ "$(readlink $f)" = "$lifeline" ] && echo "inherited ${f##*/}"; done; true`},
	}), &c)
	if res.Status != plugins.Completed {
		t.Fatalf("listing descriptors: %v\n%s", res, strings.Join(c.lines, "\n"))
	}
	if !slices.ContainsFunc(c.lines, func(l string) bool { return strings.HasPrefix(l, "lifeline pipe:") }) {
		t.Fatalf("the plugin's fd 3 is not a pipe:\n%s", strings.Join(c.lines, "\n"))
	}
	for _, l := range c.lines {
		if strings.HasPrefix(l, "inherited ") {
			t.Errorf("the command holds the plugin's lifeline: %s", l)
		}
	}
}
