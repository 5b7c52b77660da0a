package bench

import (
	"os"
	"path/filepath"
)

// linkPlugin makes a plugin binary visible in dir.
func linkPlugin(bin, dir string) error {
	return os.Symlink(bin, filepath.Join(dir, filepath.Base(bin)))
}
