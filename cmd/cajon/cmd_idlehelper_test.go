//go:build !windows

package main

import (
	"bytes"
	"strings"
	"testing"
)

// cajon idle-helper reads a Windows session's input: elsewhere it says so;
// bad usage is still bad usage. (Its Windows half, GetLastInputInfo and the
// reports, runs under wine in the Windows lane: host/workstation.)
func TestIdleHelperOutsideWindows(t *testing.T) {
	cases := []struct {
		args []string
		code int
		says string
	}{
		{[]string{"idle-helper"}, 2, "--dir is required"},
		{[]string{"idle-helper", "--dir", t.TempDir(), "extra"}, 2, "unexpected arguments"},
		{[]string{"idle-helper", "--dir", t.TempDir()}, 1, "read on Windows only"},
		{[]string{"idle-helper", "--help"}, 0, "start this at logon"},
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
