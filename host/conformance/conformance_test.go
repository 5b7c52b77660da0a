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
		fails              []string // the checks that must fail
		mayFail            []string // checks that may fail too, depending on timing
	}{
		{name: "the Go SDK's exec plugin", plugin: "exec"},
		{name: "the smallest Go plugin (examples/hello-plugin)", plugin: "hello"},
		{name: "a plugin without the SDK", plugin: "foreign"},
		{name: "no exit on lifeline EOF", plugin: "foreign", mode: "ignore-lifeline", fails: []string{"exits when its lifeline closes"}},
		{name: "cancel ignored", plugin: "foreign", mode: "ignore-cancel", fails: []string{"cancel spawn"}},
		{name: "a process escapes", plugin: "foreign", mode: "leak", fails: []string{"leaves no process behind"}, mayFail: []string{"cancel spawn"}},
		{name: "malformed events", plugin: "foreign", mode: "bad-events", fails: []string{"events count"}},
		{name: "invalid description", plugin: "foreign", mode: "bad-schema", fails: []string{"describe"}},
		{name: "no result", plugin: "foreign", mode: "no-result", fails: []string{"run count", "run spawn"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CAJON_FOREIGN_MODE", tc.mode)
			path := filepath.Join(pluginDir, "cajon-plugin-"+tc.plugin)
			rep := conformance.Run(context.Background(), path, conformance.Options{Grace: 2 * time.Second})
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
