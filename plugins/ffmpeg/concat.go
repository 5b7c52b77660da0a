package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/cajonfarm/cajon/plugins/internal/ospath"
)

// expandGlob returns the regular files matching pattern, in natural order
// (frame2 before frame10). We expand it ourselves because FFmpeg's own
// "-pattern_type glob" does not exist on Windows. A relative pattern is
// relative to dir. No match is an error naming the pattern.
func expandGlob(pattern, dir string) ([]string, error) {
	if pattern == "" {
		return nil, errors.New("parameter inputGlob is empty: give the frames to encode, e.g. /render/shot/*.png")
	}
	full, err := inputPattern(ospath.Native, pattern, dir)
	if err != nil {
		return nil, fmt.Errorf("inputGlob %q: %w", pattern, err)
	}
	matches, err := filepath.Glob(full)
	if err != nil {
		return nil, fmt.Errorf("inputGlob %q is not a valid pattern: %w", pattern, err)
	}
	files := matches[:0]
	for _, m := range matches {
		if info, err := os.Stat(m); err == nil && info.Mode().IsRegular() {
			files = append(files, m)
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no frames match inputGlob %q (looked for %s); did the render write its frames there?", pattern, full)
	}
	sort.SliceStable(files, func(i, j int) bool { return naturalLess(files[i], files[j]) })
	return files, nil
}

// naturalLess orders strings so that runs of digits compare as numbers:
// "frame2" < "frame10", "a9b" < "a10a". Equal numbers with different leading
// zeros order the shorter first, so that the order is total.
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		if isDigit(a[0]) && isDigit(b[0]) {
			da, db := digitPrefix(a), digitPrefix(b)
			na, nb := strings.TrimLeft(da, "0"), strings.TrimLeft(db, "0")
			switch {
			case len(na) != len(nb):
				return len(na) < len(nb)
			case na != nb:
				return na < nb
			case len(da) != len(db):
				return len(da) < len(db)
			}
			a, b = a[len(da):], b[len(db):]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func digitPrefix(s string) string {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return s[:i]
}

// concatList is an FFmpeg concat-demuxer script showing each file for one
// frame at fps: "file" and "duration" lines only, which every FFmpeg since
// 2.x reads (no "option framerate": that needs FFmpeg 4.4). The image
// demuxer then gives each image its default 1/25 s, which matters only for
// the last frame (inputFor uses this list only when it cannot make a
// sequence). A path with a line break cannot be written in a script (FFmpeg
// reads it line by line).
func concatList(files []string, fps float64) (string, error) {
	duration := strconv.FormatFloat(1/fps, 'f', -1, 64)
	var b strings.Builder
	b.WriteString("ffconcat version 1.0\n")
	for _, f := range files {
		if strings.ContainsAny(f, "\n\r") {
			return "", fmt.Errorf("frame %q has a line break in its name, which FFmpeg's concat list cannot hold; rename it", f)
		}
		fmt.Fprintf(&b, "file %s\nduration %s\n", quoteConcat(f), duration)
	}
	return b.String(), nil
}

// quoteConcat quotes a path for a concat script: inside single quotes
// everything is literal (backslashes of Windows paths too) except the quote
// itself, which closes the quoting, is escaped, and reopens it:
//
//	/r/it's/0001.png -> '/r/it'\''s/0001.png'
func quoteConcat(path string) string {
	return "'" + strings.ReplaceAll(path, "'", `'\''`) + "'"
}
