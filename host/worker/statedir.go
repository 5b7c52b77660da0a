package worker

import (
	"fmt"
	"os"
	"runtime"

	"github.com/hashicorp/go-hclog"
)

// PrepareStateDir creates the state directory, private to the user cajon
// runs as (0700), when it is missing: it holds the credentials and the task
// logs. An existing one is left as it is (an older Cajon, or systemd's
// default StateDirectoryMode, made it 0755: the files in it are private
// all the same), with a warning when others may write to it and so replace
// those files. Call it before anything else writes there.
func PrepareStateDir(dir string, log hclog.Logger) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create the state directory %s: %w", dir, err)
	}
	if runtime.GOOS == "windows" {
		return nil // no mode bits; the folder's ACL applies
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("state directory %s: %w", dir, err)
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 && log != nil {
		log.Warn("other users may write to the state directory, which holds the worker's credentials and task updates: "+
			"make it private (chmod 700; systemd: StateDirectoryMode=0700)", "dir", dir, "mode", fmt.Sprintf("%04o", perm))
	}
	return nil
}
