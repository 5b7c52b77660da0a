package main

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
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
duration 0.041666666666666664
file '/r/it'\''s/frame2.png'
duration 0.041666666666666664
file 'C:\r\frame 3.png'
duration 0.041666666666666664
`
	if got != want {
		t.Errorf("concatList =\n%s\nwant\n%s", got, want)
	}
	got, err = concatList([]string{"/r/a.png"}, 29.97)
	if err != nil || !strings.Contains(got, "\nduration 0.03336670003336670") {
		t.Errorf("concatList at 29.97 fps = %q, %v", got, err)
	}
	if _, err := concatList([]string{"/r/a\nb.png"}, 24); err == nil || !strings.Contains(err.Error(), "line break") {
		t.Errorf("concatList accepted a path with a line break: %v", err)
	}
}

// TestConcatListNeedsNoNewFFmpeg: the list holds only what FFmpeg 4.2
// (Ubuntu 20.04) and older read: the header, file and duration lines. The
// "option" directive (framerate among them) needs FFmpeg 4.4.
func TestConcatListNeedsNoNewFFmpeg(t *testing.T) {
	for _, fps := range []float64{24, 29.97, 60} {
		got, err := concatList([]string{"/r/a.png", "/r/b c.png", "/r/d.jpg"}, fps)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
			directive, _, _ := strings.Cut(line, " ")
			switch {
			case i == 0 && line == "ffconcat version 1.0":
			case i > 0 && (directive == "file" || directive == "duration"):
			default:
				t.Errorf("fps %g: line %d %q is not one FFmpeg 4.2 reads", fps, i+1, line)
			}
		}
	}
}

func TestSequenceOf(t *testing.T) {
	tests := []struct {
		name    string
		files   []string
		pattern string
		start   int64
		ok      bool
	}{
		{"padded", []string{"/r/shot_010_0001.png", "/r/shot_010_0002.png", "/r/shot_010_0003.png"}, "/r/shot_010_%04d.png", 1, true},
		{"unpadded", []string{"/r/frame9.png", "/r/frame10.png", "/r/frame11.png"}, "/r/frame%d.png", 9, true},
		{"padded past its width", []string{"/r/9999.exr", "/r/10000.exr"}, "/r/%d.exr", 9999, true},
		{"zero padded past its width", []string{"/r/0999.exr", "/r/1000.exr"}, "/r/%04d.exr", 999, true},
		{"a percent sign is escaped", []string{"/r/100%/f1.png", "/r/100%/f2.png"}, "/r/100%%/f%d.png", 1, true},
		{"one frame", []string{"/r/f0042.png"}, "/r/f%04d.png", 42, true},
		{"no number", []string{"/r/a.png", "/r/b.png"}, "", 0, false},
		{"a gap", []string{"/r/f1.png", "/r/f3.png"}, "", 0, false},
		{"two names", []string{"/r/a1.png", "/r/b2.png"}, "", 0, false},
		{"two extensions", []string{"/r/f1.png", "/r/f2.jpg"}, "", 0, false},
		{"mixed padding", []string{"/r/f01.png", "/r/f2.png"}, "", 0, false},
		{"digits only in the folder", []string{"/r/shot2/a.png"}, "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pattern, start, _, ok := sequenceOf(tt.files)
			if pattern != tt.pattern || start != tt.start || ok != tt.ok {
				t.Errorf("sequenceOf(%q) = %q, %d, %v; want %q, %d, %v", tt.files, pattern, start, ok, tt.pattern, tt.start, tt.ok)
			}
		})
	}
}

func TestInputFor(t *testing.T) {
	dir := t.TempDir()
	var seq, gaps, mixed []string
	for i := 1; i <= 3; i++ {
		seq = append(seq, filepath.Join(dir, fmt.Sprintf("seq_%03d.png", i)))
		gaps = append(gaps, filepath.Join(dir, fmt.Sprintf("gap_%d.png", 2*i)))
	}
	mixed = []string{filepath.Join(dir, "m1.png"), filepath.Join(dir, "m2.jpg")}
	// The glob took more_1 and more_2; FFmpeg would read on to more_3.
	more := []string{filepath.Join(dir, "more_1.png"), filepath.Join(dir, "more_2.png")}
	for _, f := range slices.Concat(seq, gaps, mixed, more, []string{filepath.Join(dir, "more_3.png")}) {
		touch(t, f)
	}
	for _, tt := range []struct {
		name   string
		frames []string
		opts   []string
		file   string // "" = in tmp
	}{
		{"a sequence is read in place", seq, []string{"-framerate", "30", "-start_number", "1", "-pattern_type", "sequence"}, filepath.Join(dir, "seq_%03d.png")},
		{"gaps are linked as a sequence", gaps, []string{"-framerate", "30", "-start_number", "1", "-pattern_type", "sequence"}, ""},
		{"several extensions make a list", mixed, []string{"-f", "concat", "-safe", "0"}, ""},
		{"a sequence that goes on past the frames is linked", more, []string{"-framerate", "30", "-start_number", "1", "-pattern_type", "sequence"}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			in, err := inputFor(tt.frames, 30, tmp)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(in.opts, tt.opts) {
				t.Errorf("input options %q, want %q", in.opts, tt.opts)
			}
			if tt.file != "" && in.file != tt.file {
				t.Errorf("input %q, want %q", in.file, tt.file)
			}
			if tt.file == "" && filepath.Dir(in.file) != tmp {
				t.Errorf("input %q is not in the temporary folder %s", in.file, tmp)
			}
			if slices.Contains(in.opts, "sequence") && tt.file == "" {
				for i, f := range tt.frames {
					link := filepath.Join(tmp, fmt.Sprintf("frame-%06d.png", i+1))
					if a, b := statOf(t, link), statOf(t, f); !os.SameFile(a, b) {
						t.Errorf("%s is not %s", link, f)
					}
				}
			}
		})
	}
}

func statOf(t *testing.T, path string) os.FileInfo {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func TestBundledFFmpeg(t *testing.T) {
	if got := bundledFFmpeg("", "linux", "amd64"); got != nil {
		t.Errorf("no host folder: %q, want none", got)
	}
	tools := filepath.Join("opt", "flamenco", "tools")
	want := []string{filepath.Join(tools, "ffmpeg-windows-amd64.exe"), filepath.Join(tools, "ffmpeg-windows.exe"), filepath.Join(tools, "ffmpeg.exe")}
	if got := bundledFFmpeg(filepath.Join("opt", "flamenco"), "windows", "amd64"); !slices.Equal(got, want) {
		t.Errorf("bundledFFmpeg on windows = %q, want %q", got, want)
	}
	want = []string{filepath.Join(tools, "ffmpeg-linux-arm64"), filepath.Join(tools, "ffmpeg-linux"), filepath.Join(tools, "ffmpeg")}
	if got := bundledFFmpeg(filepath.Join("opt", "flamenco"), "linux", "arm64"); !slices.Equal(got, want) {
		t.Errorf("bundledFFmpeg on linux = %q, want %q", got, want)
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
	in := frameInput{opts: []string{"-framerate", "24"}, file: "/r/f%04d.png"}
	got := ffmpegArgs([]string{"-hide_banner"}, in, []string{"-r", "24"}, []string{"-c:v", "h264", "-y"}, "/out/v.mp4")
	want := []string{"-hide_banner", "-nostdin", "-nostats", "-progress", "pipe:1", "-framerate", "24", "-r", "24",
		"-i", "/r/f%04d.png", "-c:v", "h264", "-y", "/out/v.mp4"}
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
