//go:build unix

package local

import (
	"fmt"
	"path/filepath"

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
	return fmt.Sprintf("the disk holding %s (mounted at %s, %s free)", dir, mount, byteSize(free))
}

// byteSize writes a byte count briefly: "0 B", "12 KiB", "3.2 GiB".
func byteSize(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	if v >= 10 {
		return fmt.Sprintf("%.0f %ciB", v, "KMGTP"[exp])
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTP"[exp])
}
