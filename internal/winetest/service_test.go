//go:build linux

package winetest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/internal/managertest"
	"github.com/cajonfarm/cajon/internal/testwait"
	"github.com/cajonfarm/cajon/internal/wine"
)

// TestServiceSignsOff installs cajon.exe as a service in wine's service
// manager, working for a (fake, strict) Manager on the loopback: it starts,
// signs on, and a service stop makes it sign off, as SIGTERM does on Linux.
// What wine's service manager cannot do (recovery actions on an exit code)
// is in docs/PLATFORMS.md.
func TestServiceSignsOff(t *testing.T) {
	env.Require(t)
	m := managertest.New(t, managertest.Config{})
	h := newHost(t)
	name := fmt.Sprintf("cajon-lane-%d", time.Now().UnixNano())
	logFile := filepath.Join(h.dir, "service.log")
	cajon := func(args ...string) (string, error) {
		out, err := env.Cajon(h.mark, args...).CombinedOutput()
		return string(out), err
	}
	out, err := cajon("service", "install", "--name", name, "--config", h.config, "--log", wine.WinPath(logFile),
		"--", "--manager", m.URL(), "--state-dir", h.state)
	if err != nil {
		t.Fatalf("cajon.exe service install: %v\n%s", err, out)
	}
	t.Cleanup(func() { cajon("service", "uninstall", "--name", name) })
	serviceLog := func() string {
		b, _ := os.ReadFile(logFile)
		return string(b)
	}

	if out, err := cajon("service", "start", "--name", name); err != nil || !strings.Contains(out, "is running") {
		t.Fatalf("cajon.exe service start: %v\n%s\nservice log:\n%s", err, out, serviceLog())
	}
	testwait.Within(t, "the service's worker to sign on", time.Minute, func() bool {
		return m.RequestCount(managertest.OpSignOn, "") > 0
	})
	if out, err := cajon("service", "status", "--name", name); err != nil || !strings.Contains(out, "running (pid ") {
		t.Errorf("cajon.exe service status while it runs: %v\n%s", err, out)
	}
	if out, err := cajon("service", "stop", "--name", name); err != nil || !strings.Contains(out, "stopped") {
		t.Fatalf("cajon.exe service stop: %v\n%s\nservice log:\n%s", err, out, serviceLog())
	}
	if n := m.RequestCount(managertest.OpSignOff, ""); n != 1 {
		t.Errorf("the worker signed off %d times, want once; service log:\n%s", n, serviceLog())
	}
	if log := serviceLog(); !strings.Contains(log, "the Windows service manager stops the service") {
		t.Errorf("the service log does not say why the worker stopped:\n%s", log)
	}
	if out, err := cajon("service", "status", "--name", name); err != nil || !strings.Contains(out, "service "+name+": stopped\n") {
		t.Errorf("cajon.exe service status after the stop (exit code 0): %v\n%s", err, out)
	}
	m.CheckProtocol(t)
	if out, err := cajon("service", "uninstall", "--name", name); err != nil {
		t.Errorf("cajon.exe service uninstall: %v\n%s", err, out)
	}
	if out, err := cajon("service", "status", "--name", name); err == nil || !strings.Contains(out, "there is no service") {
		t.Errorf("cajon.exe service status after uninstall: %v\n%s", err, out)
	}
}
