//go:build unix

package jobstore

import (
	"fmt"
	"path/filepath"

	"github.com/cajonfarm/cajon/sdk/bytesize"
	"golang.org/x/sys/unix"
)

// diskOf names the file system that holds path, with its mount point and
// free space, for messages about a disk that refuses writes.
func diskOf(path string) string {
	dir := filepath.Dir(path)
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return "the disk holding " + dir
	}
	// The mount point: the highest folder on the same device.
	mount := dir
	for {
		parent := filepath.Dir(mount)
		var pst unix.Stat_t
		if parent == mount || unix.Stat(parent, &pst) != nil || pst.Dev != st.Dev {
			break
		}
		mount = parent
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		return fmt.Sprintf("the disk holding %s (mounted at %s)", dir, mount)
	}
	free := uint64(fs.Bavail) * uint64(fs.Bsize)
	return fmt.Sprintf("the disk holding %s (mounted at %s, %s free)", dir, mount, bytesize.Format(int64(free)))
}
