package rundir

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// RemoveTree removes dir and everything in it, as os.RemoveAll does. Where
// os.RemoveAll fails, it removes one entry at a time with os.Remove, deepest
// first: wine 8 lacks the file-disposition call that Go's RemoveAll uses on
// Windows ("Invalid function"), while the plain delete works there.
func RemoveTree(dir string) error {
	err := os.RemoveAll(dir)
	if err == nil {
		return nil
	}
	var paths []string
	walkErr := filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		paths = append(paths, path)
		return nil
	})
	if walkErr != nil {
		if os.IsNotExist(walkErr) {
			return nil
		}
		return err
	}
	// A path sorts after its folder: removing in reverse empties each
	// folder before it goes.
	sort.Sort(sort.Reverse(sort.StringSlice(paths)))
	for _, p := range paths {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	return nil
}
