//go:build !windows

package plugins

import (
	"os"
	"os/exec"

	"github.com/cajonfarm/cajon/sdk/wire"
)

// passLifeline gives the plugin r, the read end of its lifeline, as fd 3.
func passLifeline(cmd *exec.Cmd, r *os.File) error {
	cmd.ExtraFiles = []*os.File{r}
	cmd.Env = append(cmd.Env, wire.EnvLifelineFD+"=3")
	return nil
}
