package sdk

import (
	"os"

	"github.com/cajonfarm/cajon/sdk/wire"
)

// HostDir is the folder of the Cajon host's executable, where a Flamenco
// worker bundle keeps its tools/ folder: look there for programs bundled
// beside the worker (as the stock worker finds tools/ffmpeg-linux-amd64)
// before PATH. It is "" when the host did not say (an older host, a test
// harness). Commands the plugin runs do not get it in their environment.
func HostDir() string { return os.Getenv(wire.EnvHostDir) }
