package cmdline

import (
	"slices"
	"testing"
)

func TestTail(t *testing.T) {
	tests := []struct {
		max  int
		add  []string
		want []string
	}{
		{max: 3, add: nil, want: nil},
		{max: 3, add: []string{"a", "b"}, want: []string{"a", "b"}},
		{max: 3, add: []string{"a", "b", "c", "d", "e"}, want: []string{"c", "d", "e"}},
		{max: 1, add: []string{"a", "b"}, want: []string{"b"}},
		{max: 0, add: []string{"a"}, want: nil},
	}
	for _, tt := range tests {
		tl := NewTail(tt.max)
		for _, l := range tt.add {
			tl.Add(l)
		}
		if got := tl.Lines(); !slices.Equal(got, tt.want) {
			t.Errorf("NewTail(%d) after %q: %q, want %q", tt.max, tt.add, got, tt.want)
		}
	}
}
