package cmdline

import (
	"reflect"
	"testing"
)

func TestJoin(t *testing.T) {
	tests := []struct {
		argv []string
		want string
	}{
		{[]string{"blender", "-b", "/r/scene.blend", "-f", "1..3"}, "blender -b /r/scene.blend -f 1..3"},
		{[]string{"--python-expr", "import bpy; print('x')"}, `--python-expr 'import bpy; print('\''x'\'')'`},
		{[]string{"", "a b", `C:\x`, "$HOME", "*.png"}, `'' 'a b' 'C:\x' '$HOME' '*.png'`},
		{[]string{"/r/######", "#1"}, "/r/###### '#1'"},
	}
	for _, tt := range tests {
		got := Join(tt.argv)
		if got != tt.want {
			t.Errorf("Join(%q) = %s, want %s", tt.argv, got, tt.want)
		}
		back, err := Split(got)
		if err != nil || !reflect.DeepEqual(back, tt.argv) {
			t.Errorf("Split(Join(%q)) = %q, %v: not the same words", tt.argv, back, err)
		}
	}
}
