package e2e

import (
	"fmt"
	"os"
	"testing"

	"github.com/cajonfarm/cajon/internal/testbin"
)

// binDir holds the cajon host and the render node's plugins, built once for
// the test binary by TestMain: binDir/cajon, binDir/plugins/cajon-plugin-*.
var binDir string

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "cajon-e2e-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	// The plugins of a default render node: its task types are blender,
	// ffmpeg, file-management and misc, like Flamenco's own worker.
	if err := testbin.Build(dir, "blender", "ffmpeg", "files", "exec"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	binDir = dir
	return m.Run()
}
