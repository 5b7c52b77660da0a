package conformance_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/conformance"
	"github.com/cajonfarm/cajon/internal/testbin"
	"github.com/cajonfarm/cajon/sdk/proctree"
)

var pluginDir string

func TestMain(m *testing.M) {
	if runtime.GOOS != "linux" {
		fmt.Println("host/conformance tests run real plugins: Linux only")
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "cajon-conformance-test-")
	if err != nil {
		panic(err)
	}
	if err := testbin.Build(dir, "exec", "hello", "foreign"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pluginDir = filepath.Join(dir, "plugins")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestCheck runs the check on plugins that keep the contract and on ones that
// break one part of it each (internal/foreignplugin's modes): exactly the
// broken part fails.
func TestCheck(t *testing.T) {
	cases := []struct {
		name, plugin, mode string
		config             map[string]any    // the [plugins.<name>] table
		fails              []string          // the checks that must fail
		mayFail            []string          // checks that may fail too, depending on timing
		details            map[string]string // check name -> what its detail must say
	}{
		{name: "the Go SDK's exec plugin", plugin: "exec"},
		{name: "the smallest Go plugin (examples/hello-plugin)", plugin: "hello"},
		{name: "a plugin without the SDK", plugin: "foreign"},
		{name: "no exit on lifeline EOF", plugin: "foreign", mode: "ignore-lifeline", fails: []string{"exits when its lifeline closes"}},
		{name: "cancel ignored", plugin: "foreign", mode: "ignore-cancel", fails: []string{"cancel spawn"}},
		{name: "a process escapes", plugin: "foreign", mode: "leak", fails: []string{"leaves no process behind"}, mayFail: []string{"cancel spawn"}},
		{name: "malformed events", plugin: "foreign", mode: "bad-events", fails: []string{"events count"}},
		{name: "invalid description", plugin: "foreign", mode: "bad-schema", fails: []string{"describe"},
			details: map[string]string{"describe": `config key "root" is described twice; config key "depth": default expected an integer, got a boolean`}},
		{name: "an SDK plugin that takes no table", plugin: "exec", config: map[string]any{"shell": "bash"}, fails: []string{"config"},
			details: map[string]string{"config": `[plugins.exec] in cajon.toml: unknown key "shell": plugin exec takes no configuration`}},
		{name: "a plugin without the SDK that negotiates", plugin: "foreign", mode: "negotiate", config: map[string]any{"root": "/srv", "depth": int64(3)},
			details: map[string]string{
				"describe": `capabilities: previews; warning: plugin foreign: command "count": parameter "note" declares no type`,
				"config":   "[plugins.foreign] accepts depth, labels, root; the table given fits",
			}},
		{name: "its table with a typo", plugin: "foreign", mode: "negotiate", config: map[string]any{"root": "/srv", "dpeth": 3}, fails: []string{"config"},
			details: map[string]string{"config": `unknown key "dpeth" (did you mean "depth"?); plugin foreign accepts depth, labels, root`}},
		{name: "an old plugin's table is not judged", plugin: "foreign", config: map[string]any{"anything": 1},
			details: map[string]string{"config": "no config schema declared: the host passes [plugins.foreign] on unchecked"}},
		{name: "no result", plugin: "foreign", mode: "no-result", fails: []string{"run count", "run spawn"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CAJON_FOREIGN_MODE", tc.mode)
			path := filepath.Join(pluginDir, "cajon-plugin-"+tc.plugin)
			rep := conformance.Run(context.Background(), path, conformance.Options{Grace: 2 * time.Second, Config: tc.config})
			var table bytes.Buffer
			if err := rep.WriteTable(&table); err != nil {
				t.Fatal(err)
			}
			var failed []string
			for _, c := range rep.Checks {
				if c.Status == conformance.Fail {
					failed = append(failed, c.Name)
				}
			}
			for _, want := range tc.fails {
				if !slices.Contains(failed, want) {
					t.Errorf("check %q did not fail", want)
				}
			}
			for _, got := range failed {
				if !slices.Contains(tc.fails, got) && !slices.Contains(tc.mayFail, got) {
					t.Errorf("check %q failed", got)
				}
			}
			for check, want := range tc.details {
				if c, ok := rep.Find(check); !ok || !strings.Contains(c.Detail, want) {
					t.Errorf("check %q says %q, want it to say %q", check, c.Detail, want)
				}
			}
			if rep.Failed() != (len(tc.fails) > 0) {
				t.Errorf("Failed() = %v", rep.Failed())
			}
			verdict := "PASS: "
			if len(tc.fails) > 0 {
				verdict = "FAIL: "
			}
			if !strings.Contains(table.String(), verdict) {
				t.Errorf("the table has no %q verdict", verdict)
			}
			if t.Failed() {
				t.Logf("report:\n%s", table.String())
			}
		})
	}
}

// TestCheckOfAMissingBinary fails at the handshake and says why.
func TestCheckOfAMissingBinary(t *testing.T) {
	rep := conformance.Run(context.Background(), filepath.Join(t.TempDir(), "cajon-plugin-none"), conformance.Options{})
	c, ok := rep.Find("handshake")
	if !ok || c.Status != conformance.Fail || !strings.Contains(c.Detail, "cajon-plugin-none") {
		t.Fatalf("handshake check %+v", c)
	}
}

// TestCheckOfAPluginThatHangs checks the plugin of issue 19: a shell script
// that never does the handshake, with a child that keeps its stdout open.
// The check ends (each step and the whole check have a deadline), the hung
// steps are FAIL rows that name them, and no process is left.
func TestCheckOfAPluginThatHangs(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "cajon-plugin-hang")
	script, err := os.ReadFile(filepath.Join("testdata", "cajon-plugin-hang"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, script, 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		timeout time.Duration
		fails   map[string]string // check -> what its detail says
		absent  []string          // checks that must not be in the report
	}{
		{name: "each step's own deadline", fails: map[string]string{
			"refuses a start by hand": "still running 5s after a start without CAJON_PLUGIN",
			"handshake":               "timeout while waiting for plugin to start",
		}},
		{name: "the check's deadline during the start by hand", timeout: 2 * time.Second, fails: map[string]string{
			"refuses a start by hand": "the check's deadline (2s, --timeout) passed during this step",
		}, absent: []string{"handshake"}},
		{name: "the check's deadline during the handshake", timeout: 7 * time.Second, fails: map[string]string{
			"refuses a start by hand": "still running 5s",
			"handshake":               "the check's deadline (7s, --timeout) passed during this step",
		}, absent: []string{"describe"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// t.TempDir's names are too long for a socket path.
			runDir, err := os.MkdirTemp("", "rd")
			if err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(runDir)
			done := make(chan *conformance.Report, 1)
			go func() {
				done <- conformance.Run(context.Background(), bin, conformance.Options{Timeout: tc.timeout, RunDir: runDir})
			}()
			var rep *conformance.Report
			select {
			case rep = <-done:
			case <-time.After(2 * time.Minute):
				t.Fatal("the check of a hung plugin is still running after 2 minutes")
			}
			var table bytes.Buffer
			_ = rep.WriteTable(&table)
			for check, want := range tc.fails {
				if c, ok := rep.Find(check); !ok || c.Status != conformance.Fail || !strings.Contains(c.Detail, want) {
					t.Errorf("check %q: %v %q, want FAIL saying %q", check, c.Status, c.Detail, want)
				}
			}
			for _, check := range tc.absent {
				if _, ok := rep.Find(check); ok {
					t.Errorf("check %q ran after the check's deadline", check)
				}
			}
			if c, ok := rep.Find("leaves no process behind"); !ok || c.Status != conformance.Pass {
				t.Errorf("leaves no process behind: %v %q", c.Status, c.Detail)
			}
			if left, _ := proctree.Descendants(os.Getpid()); len(left) > 0 {
				t.Errorf("processes %v are left", left)
			}
			if t.Failed() {
				t.Logf("report:\n%s", table.String())
			}
		})
	}
}
