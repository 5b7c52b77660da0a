package main

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func TestNaturalLess(t *testing.T) {
	sorted := []string{
		"",
		"frame",
		"frame1.png",
		"frame01.png",
		"frame2.png",
		"frame10.png",
		"frame10a.png",
		"frame11.png",
		"frame100.png",
		"frameA.png",
		"shot2/frame1.png",
		"shot10/frame1.png",
		"x00000000000000000000000000000001",
		"x2",
		"x99999999999999999999999999999999",
	}
	for i := range sorted {
		for j := range sorted {
			if got, want := naturalLess(sorted[i], sorted[j]), i < j; got != want {
				t.Errorf("naturalLess(%q, %q) = %v, want %v", sorted[i], sorted[j], got, want)
			}
		}
	}
	shuffled := append([]string(nil), sorted...)
	sort.Strings(shuffled) // lexical: frame10 before frame2
	sort.SliceStable(shuffled, func(i, j int) bool { return naturalLess(shuffled[i], shuffled[j]) })
	if !reflect.DeepEqual(shuffled, sorted) {
		t.Errorf("natural sort gave\n%q\nwant\n%q", shuffled, sorted)
	}
}

func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestExpandGlob(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"frame10.png", "frame2.png", "frame1.png", "other.jpg", "it's.png"} {
		touch(t, filepath.Join(dir, "r", name))
	}
	if err := os.Mkdir(filepath.Join(dir, "r", "dir.png"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := filepath.Join(dir, "r")
	tests := []struct {
		pattern, dir string
		want         []string
		wantErr      string
	}{
		{filepath.Join(r, "frame*.png"), "", []string{"frame1.png", "frame2.png", "frame10.png"}, ""},
		{"r/*.png", dir, []string{"frame1.png", "frame2.png", "frame10.png", "it's.png"}, ""},
		{filepath.Join(r, "*.exr"), "", nil, "no frames match inputGlob"},
		{filepath.Join(r, "[.png"), "", nil, "not a valid pattern"},
		{"", "", nil, "inputGlob is empty"},
	}
	for _, tt := range tests {
		got, err := expandGlob(tt.pattern, tt.dir)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), tt.pattern) {
				t.Errorf("expandGlob(%q) = %q, %v; want an error naming the pattern and saying %q", tt.pattern, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("expandGlob(%q): %v", tt.pattern, err)
			continue
		}
		var want []string
		for _, w := range tt.want {
			want = append(want, filepath.Join(r, w))
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("expandGlob(%q) = %q, want %q", tt.pattern, got, want)
		}
	}
}

func TestConcatList(t *testing.T) {
	got, err := concatList([]string{"/r/frame1.png", "/r/it's/frame2.png", `C:\r\frame 3.png`}, 24)
	if err != nil {
		t.Fatal(err)
	}
	want := `ffconcat version 1.0
file '/r/frame1.png'
option framerate 24
duration 0.041666666666666664
file '/r/it'\''s/frame2.png'
option framerate 24
duration 0.041666666666666664
file 'C:\r\frame 3.png'
option framerate 24
duration 0.041666666666666664
`
	if got != want {
		t.Errorf("concatList =\n%s\nwant\n%s", got, want)
	}
	got, err = concatList([]string{"/r/a.png"}, 29.97)
	if err != nil || !strings.Contains(got, "option framerate 29.97\nduration 0.03336670003336670") {
		t.Errorf("concatList at 29.97 fps = %q, %v", got, err)
	}
	if _, err := concatList([]string{"/r/a\nb.png"}, 24); err == nil || !strings.Contains(err.Error(), "line break") {
		t.Errorf("concatList accepted a path with a line break: %v", err)
	}
}

func TestQuoteConcat(t *testing.T) {
	tests := map[string]string{
		"/plain/path.png": `'/plain/path.png'`,
		"it's":            `'it'\''s'`,
		"''":              `''\'''\'''`,
		`a\b $c "d"`:      `'a\b $c "d"'`,
	}
	for in, want := range tests {
		if got := quoteConcat(in); got != want {
			t.Errorf("quoteConcat(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestFFmpegArgs(t *testing.T) {
	got := ffmpegArgs([]string{"-hide_banner"}, []string{"-r", "24"}, "/tmp/l.ffconcat", []string{"-c:v", "h264", "-y"}, "/out/v.mp4")
	want := []string{"-hide_banner", "-nostdin", "-nostats", "-progress", "pipe:1", "-r", "24",
		"-f", "concat", "-safe", "0", "-i", "/tmp/l.ffconcat", "-c:v", "h264", "-y", "/out/v.mp4"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ffmpegArgs =\n%q\nwant\n%q", got, want)
	}
}

func TestProgressFrame(t *testing.T) {
	tests := []struct {
		line string
		n    int64
		ok   bool
	}{
		{"frame=12", 12, true},
		{"frame=0", 0, true},
		{"frame= 7", 7, true},
		{"fps=24.0", 0, false},
		{"frame=", 0, false},
		{"frame=-1", 0, false},
		{"progress=end", 0, false},
	}
	for _, tt := range tests {
		n, ok := progressFrame(tt.line)
		if n != tt.n || ok != tt.ok {
			t.Errorf("progressFrame(%q) = %d, %v; want %d, %v", tt.line, n, ok, tt.n, tt.ok)
		}
	}
}
