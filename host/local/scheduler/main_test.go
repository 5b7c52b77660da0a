package scheduler

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/cajonfarm/cajon/host/local/jobfile"
	"github.com/cajonfarm/cajon/host/plugins"
	"github.com/cajonfarm/cajon/internal/testbin"
)

// testPlugins is the registry of the real plugins (exec, testkit, blender,
// ffmpeg), built once by TestMain.
var testPlugins *plugins.Registry

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "cajon-local-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := testbin.Build(dir, "exec", "testkit", "blender", "ffmpeg"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	reg, err := plugins.Open(context.Background(), plugins.Options{Dirs: []string{filepath.Join(dir, "plugins")}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer reg.Close()
	testPlugins = reg
	return m.Run()
}

// registry returns the test plugins, as job validation sees them.
func registry(t testing.TB) jobfile.RegistryCommands {
	t.Helper()
	if testPlugins == nil {
		t.Fatal("plugins not built")
	}
	return jobfile.RegistryCommands{Registry: testPlugins}
}
