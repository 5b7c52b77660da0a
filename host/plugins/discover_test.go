package plugins

import (
	"path/filepath"
	"slices"
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
