package e2e

import (
	"os"
	"testing"

	"github.com/cajonfarm/cajon/internal/testbin"
)

// binDir holds the cajon host and the render node's plugins, built once for
// the test binary by TestMain: binDir/cajon, binDir/plugins/cajon-plugin-*.
var binDir string

func TestMain(m *testing.M) {
	// The plugins of a default render node: its task types are blender,
	// ffmpeg, file-management and misc, like Flamenco's own worker.
	os.Exit(testbin.Main(m, &binDir, "blender", "ffmpeg", "files", "exec"))
}
