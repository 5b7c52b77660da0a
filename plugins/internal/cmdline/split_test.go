package cmdline

import (
	"reflect"
	"testing"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"   \t\n ", nil},
		{"-b -y", []string{"-b", "-y"}},
		{"  -b\t-y\n", []string{"-b", "-y"}},
		{"--python-expr 'import bpy; print(1)'", []string{"--python-expr", "import bpy; print(1)"}},
		{`"a b" c`, []string{"a b", "c"}},
		{`a\ b c`, []string{"a b", "c"}},
		{`''`, []string{""}},
		{`"" x`, []string{"", "x"}},
		{`a''b`, []string{"ab"}},
		{`'it'\''s'`, []string{"it's"}},
		{`"say \"hi\""`, []string{`say "hi"`}},
		{`"back\\slash"`, []string{`back\slash`}},
		{`"keep \n literal"`, []string{`keep \n literal`}},
		{`'no \escapes \\ here'`, []string{`no \escapes \\ here`}},
		{`"\$HOME" $HOME *.png`, []string{"$HOME", "$HOME", "*.png"}},
		{"a\\\nb", []string{"ab"}},
		{"\"a\\\nb\"", []string{"ab"}},
		{`mixed"dq"'sq'plain`, []string{"mixeddqsqplain"}},
		{`C:\\blender\\blender.exe`, []string{`C:\blender\blender.exe`}},
		{`'C:\blender\blender.exe'`, []string{`C:\blender\blender.exe`}},
		{"ünï 'cödé'", []string{"ünï", "cödé"}},
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

func TestSplitErrors(t *testing.T) {
	for _, in := range []string{`'open`, `"open`, `a "b\"`, `trailing\`, `ok 'x' "y`} {
		if got, err := Split(in); err == nil {
			t.Errorf("Split(%q) = %q, want an error", in, got)
		}
	}
}
