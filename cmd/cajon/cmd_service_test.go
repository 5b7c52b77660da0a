//go:build !windows

package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestServiceIsWindowsOnly: on other systems every action says so and
// points to the systemd unit; bad usage is still bad usage.
func TestServiceIsWindowsOnly(t *testing.T) {
	cases := []struct {
		args []string
		code int
		says string
	}{
		{[]string{"service", "install", "--config", "/etc/cajon/cajon.toml"}, 2, "cajon service is for Windows; on Linux run cajon as a systemd service with examples/cajon-worker.service"},
		{[]string{"service", "start"}, 2, "cajon service is for Windows"},
		{[]string{"service", "stop", "--name", "render"}, 2, "cajon service is for Windows"},
		{[]string{"service", "status"}, 2, "cajon service is for Windows"},
		{[]string{"service", "uninstall"}, 2, "cajon service is for Windows"},
		{[]string{"service", "run", "--log", "/tmp/x.log", "cajon"}, 2, "cajon service is for Windows"},
		{[]string{"service"}, 2, "say what to do: install, uninstall, start, stop or status"},
		{[]string{"service", "restart"}, 2, `unknown action "restart"`},
		{[]string{"service", "status", "extra"}, 2, "unexpected arguments"},
		{[]string{"service", "--help"}, 0, "Run cajon as a Windows service"},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		env := &cliEnv{stdout: &stdout, stderr: &stderr, environ: []string{"HOME=" + t.TempDir()}}
		code := runCLI(env, c.args)
		if code != c.code || !strings.Contains(stderr.String(), c.says) {
			t.Errorf("cajon %s: exit %d, stderr %q; want exit %d saying %q", strings.Join(c.args, " "), code, stderr.String(), c.code, c.says)
		}
	}
}
