package suggest

import "testing"

func TestClosest(t *testing.T) {
	known := []string{"exe", "warm_sessions", "warm_idle", "warm_max_tasks", "blender", "files"}
	tests := []struct {
		name, want string
	}{
		{"warm_sesions", "warm_sessions"}, // a letter missing
		{"warm_idel", "warm_idle"},        // two swapped
		{"blendr", "blender"},
		{"exe", "exe"},
		{"fiels", "files"},
		{"ffmpeg", ""},     // nothing near
		{"warm", ""},       // too far from every warm_* key
		{"ex", "exe"},      // one letter short
		{"", ""},           // three edits from "exe": too far to be a typo
		{"preview_ff", ""}, // unrelated
	}
	for _, tt := range tests {
		if got := Closest(tt.name, known); got != tt.want {
			t.Errorf("Closest(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"a", "", 1},
		{"", "abc", 3},
		{"kitten", "sitting", 3},
		{"manager.ur", "manager.url", 1},
		{"ab", "ba", 2},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
