package plugins_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cajonfarm/cajon/host/plugins"
)

// The describe cache is a state file: private (0600), also when an older
// cajon left it readable by all.
func TestDescribeCacheIsPrivate(t *testing.T) {
	cases := []struct {
		name     string
		existing os.FileMode // 0: no file yet
	}{
		{"new file", 0},
		{"file written 0644 before", 0o644},
		{"file written 0666 before", 0o666},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cache := filepath.Join(t.TempDir(), "state", "plugins-described.json")
			if tc.existing != 0 {
				if err := os.MkdirAll(filepath.Dir(cache), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(cache, []byte("{}"), tc.existing); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(cache, tc.existing); err != nil { // past the umask
					t.Fatal(err)
				}
			}
			open(t, []string{filepath.Join(binDir, "plugins")}, func(o *plugins.Options) { o.DescribeCache = cache }).Close()
			fi, err := os.Stat(cache)
			if err != nil {
				t.Fatal(err)
			}
			if perm := fi.Mode().Perm(); perm != 0o600 {
				t.Fatalf("%s has mode %04o, want 0600", cache, perm)
			}
			if tc.existing == 0 {
				di, err := os.Stat(filepath.Dir(cache))
				if err != nil {
					t.Fatal(err)
				}
				if perm := di.Mode().Perm(); perm != 0o700 {
					t.Fatalf("the folder made for it has mode %04o, want 0700", perm)
				}
			}
			left, _ := filepath.Glob(filepath.Join(filepath.Dir(cache), "*.tmp"))
			if len(left) > 0 {
				t.Fatalf("temporary files left: %v", left)
			}
		})
	}
}
