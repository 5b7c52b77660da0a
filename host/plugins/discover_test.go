package plugins

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func TestDirsBeside(t *testing.T) {
	tests := []struct {
		exe  string
		want []string
	}{
		{"/usr/local/bin/cajon", []string{"/usr/local/bin/plugins", "/usr/local/libexec/cajon/plugins"}},
		{"/opt/cajon/cajon", []string{"/opt/cajon/plugins", "/opt/libexec/cajon/plugins"}},
		{"/home/me/src/cajon/bin/cajon", []string{"/home/me/src/cajon/bin/plugins", "/home/me/src/cajon/libexec/cajon/plugins"}},
	}
	for _, tt := range tests {
		exe := filepath.FromSlash(tt.exe)
		want := make([]string, len(tt.want))
		for i, w := range tt.want {
			want[i] = filepath.FromSlash(w)
		}
		if got := dirsBeside(exe); !slices.Equal(got, want) {
			t.Errorf("dirsBeside(%s) = %q, want %q", exe, got, want)
		}
	}
}

// TestDiscoverSameFolderTwice: a folder listed twice, however spelled, does
// not shadow itself; another folder with the same plugin does.
func TestDiscoverSameFolderTwice(t *testing.T) {
	base := t.TempDir()
	first, other := filepath.Join(base, "plugins"), filepath.Join(base, "other")
	file := BinaryPrefix + "x"
	if runtime.GOOS == "windows" {
		file += ".exe"
	}
	for _, d := range []string{first, other} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, file), []byte("plugin"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(base, "link")
	haveLink := os.Symlink(first, link) == nil
	tests := []struct {
		name        string
		second      string
		shadowed    bool
		needsLink   bool
		windowsOnly bool
	}{
		{"same path", first, false, false, false},
		{"trailing separator", first + string(filepath.Separator), false, false, false},
		{"through ..", filepath.Join(other, "..", "plugins"), false, false, false},
		{"unclean", base + string(filepath.Separator) + "." + string(filepath.Separator) + "plugins", false, false, false},
		{"through a link", link, false, true, false},
		{"other case", strings.ToUpper(first), false, false, true},
		{"forward slashes", filepath.ToSlash(first), false, false, true},
		{"another folder", other, true, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.needsLink && !haveLink {
				t.Skip("cannot make a symbolic link here")
			}
			if tt.windowsOnly && runtime.GOOS != "windows" {
				t.Skip("paths differ in case and separators only on Windows")
			}
			found, notes := discover([]string{first, tt.second})
			if len(found) != 1 || found[0].path != filepath.Join(first, file) {
				t.Errorf("found %v, want only %s", found, filepath.Join(first, file))
			}
			shadowed := slices.ContainsFunc(notes, func(n string) bool { return strings.Contains(n, "is shadowed by") })
			if shadowed != tt.shadowed {
				t.Errorf("notes %q: shadowed = %v, want %v", notes, shadowed, tt.shadowed)
			}
		})
	}
}
