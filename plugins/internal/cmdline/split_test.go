package cmdline

import (
	"reflect"
	"testing"
)

// TestSplitLikeShlex: every want here is what github.com/google/shlex (the
// splitter of Flamenco's stock worker, for exeArgs) returns for the same
// input, checked by running it; the comments mark where a POSIX shell would
// differ.
func TestSplitLikeShlex(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"   \t\n ", nil},
		{"-b -y", []string{"-b", "-y"}},
		{"  -b\t-y\n", []string{"-b", "-y"}},
		{"-b\r-y", []string{"-b", "-y"}},
		{"--python-expr 'import bpy; print(1)'", []string{"--python-expr", "import bpy; print(1)"}},
		{`--python-expr "import bpy; bpy.context.scene.render.fps = 24"`, []string{"--python-expr", "import bpy; bpy.context.scene.render.fps = 24"}},
		{`"a b" c`, []string{"a b", "c"}},
		{`a\ b c`, []string{"a b", "c"}},
		{`''`, []string{""}},
		{`"" x`, []string{"", "x"}},
		{`a''b`, []string{"ab"}},
		{`'it'\''s'`, []string{"it's"}},
		{`"say \"hi\""`, []string{`say "hi"`}},
		{`"back\\slash"`, []string{`back\slash`}},
		{`'no \escapes \\ here'`, []string{`no \escapes \\ here`}},
		{`"\$HOME" $HOME *.png`, []string{"$HOME", "$HOME", "*.png"}},
		{`mixed"dq"'sq'plain`, []string{"mixeddqsqplain"}},
		{`C:\\blender\\blender.exe`, []string{`C:\blender\blender.exe`}},
		{`'C:\blender\blender.exe'`, []string{`C:\blender\blender.exe`}},
		{"ünï 'cödé'", []string{"ünï", "cödé"}},
		// In double quotes a backslash escapes any character (POSIX keeps
		// it before anything but " \ $ ` and newline).
		{`"keep \n literal"`, []string{"keep n literal"}},
		{`x "a\tb"`, []string{"x", "atb"}},
		{`"C:\Program Files\Blender\blender.exe"`, []string{`C:Program FilesBlenderblender.exe`}},
		// Backslash-newline is a newline in the word (POSIX joins the lines).
		{"a\\\nb", []string{"a\nb"}},
		{"\"a\\\nb\"", []string{"a\nb"}},
		// # starts a comment at the start of a word, to the end of the line.
		{"-b #comment", []string{"-b"}},
		{"-b #comment\n-y", []string{"-b", "-y"}},
		{"#x y", nil},
		{"-y #", []string{"-y"}},
		{"a#b", []string{"a#b"}},
		{`"#x" y`, []string{"#x", "y"}},
		{`a\#b`, []string{"a#b"}},
		{`\#x`, []string{"#x"}},
	}
	for _, tt := range tests {
		got, err := Split(tt.in)
		if err != nil {
			t.Errorf("Split(%q): unexpected error %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Split(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestSplitErrors: the inputs shlex refuses (an unterminated quote, a
// backslash at the end), which the stock worker reports as an invalid
// exeArgs.
func TestSplitErrors(t *testing.T) {
	for _, in := range []string{`'open`, `"open`, `a "b\"`, `trailing\`, `ok 'x' "y`, `"x\`} {
		if got, err := Split(in); err == nil {
			t.Errorf("Split(%q) = %q, want an error", in, got)
		}
	}
}
