package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// frameInput is how FFmpeg reads the frames: each one, in order, for 1/fps s.
type frameInput struct {
	// opts are the input options before -i; file is the input itself.
	opts []string
	file string
	// how says it in the task log.
	how string
}

// inputFor chooses how FFmpeg reads frames (in natural order), writing
// what it needs into tmp, a private folder removed after the encode. Every
// way works with the FFmpeg of every supported distribution (4.2 on Ubuntu
// 20.04 and older): nothing here needs FFmpeg 4.4's concat "option".
//
//  1. Frames that are one numbered sequence (frame0001.png, frame0002.png,
//     ...) are read in place as an image2 sequence at -framerate fps: each
//     frame lasts exactly 1/fps s, the last one too.
//  2. Other frames (gaps, several names) are linked into tmp as a numbered
//     sequence, symbolic links or else hard links, and read the same way.
//  3. When no link can be made (Windows without the right to make symbolic
//     links, frames on another volume), a concat list gives each frame its
//     duration; there the last frame lasts 1/25 s, one frame or more too
//     long above 25 fps.
func inputFor(frames []string, fps float64, tmp string) (frameInput, error) {
	rate := strconv.FormatFloat(fps, 'f', -1, 64)
	if pattern, start, next, ok := sequenceOf(frames); ok {
		// FFmpeg reads on while the next number exists: a frame the glob
		// left out must not join the video.
		if _, err := os.Lstat(next); errors.Is(err, os.ErrNotExist) {
			return image2Input(rate, pattern, start, "the frames as a numbered sequence"), nil
		}
	}
	pattern, linkErr := linkSequence(frames, tmp)
	if linkErr == nil {
		return image2Input(rate, pattern, 1, "the frames linked as a numbered sequence in "+tmp), nil
	}
	return concatInput(frames, fps, tmp,
		fmt.Sprintf("a frame list (the frames cannot be linked as a sequence: %v; above 25 fps the last frame may last 1/25 s)", linkErr))
}

// concatInput writes the frames' concat list into tmp.
func concatInput(frames []string, fps float64, tmp, how string) (frameInput, error) {
	script, err := concatList(frames, fps)
	if err != nil {
		return frameInput{}, err
	}
	list := filepath.Join(tmp, "frames.ffconcat")
	if err := os.WriteFile(list, []byte(script), 0o644); err != nil {
		return frameInput{}, fmt.Errorf("writing FFmpeg's frame list %s: %w", list, err)
	}
	return frameInput{opts: []string{"-f", "concat", "-safe", "0"}, file: list, how: how}, nil
}

func image2Input(rate, pattern string, start int64, how string) frameInput {
	return frameInput{
		opts: []string{"-framerate", rate, "-start_number", strconv.FormatInt(start, 10), "-pattern_type", "sequence"},
		file: pattern, how: how,
	}
}

// sequenceOf reports whether files are one numbered sequence that FFmpeg's
// image2 demuxer reads as they are: the same folder, name start and end
// around the last number in the name, numbers that go up by one, each
// written as the pattern writes it (%04d or %d). pattern escapes the %
// signs of the rest of the path; next is the path of the number after the
// last.
func sequenceOf(files []string) (pattern string, start int64, next string, ok bool) {
	var prefix, suffix, verb string
	for i, f := range files {
		pre, digits, suf, found := lastNumber(f)
		if !found || len(digits) > 18 {
			return "", 0, "", false
		}
		n, err := strconv.ParseInt(digits, 10, 64)
		if err != nil {
			return "", 0, "", false
		}
		if i == 0 {
			prefix, suffix, start, verb = pre, suf, n, "%d"
			if len(digits) > 1 && digits[0] == '0' {
				verb = "%0" + strconv.Itoa(len(digits)) + "d"
			}
		} else if pre != prefix || suf != suffix || n != start+int64(i) {
			return "", 0, "", false
		}
		if fmt.Sprintf(verb, n) != digits {
			return "", 0, "", false
		}
	}
	if len(files) == 0 {
		return "", 0, "", false
	}
	esc := func(s string) string { return strings.ReplaceAll(s, "%", "%%") }
	next = prefix + fmt.Sprintf(verb, start+int64(len(files))) + suffix
	return esc(prefix) + verb + esc(suffix), start, next, true
}

// lastNumber splits path around the last run of digits in its file name.
func lastNumber(path string) (prefix, digits, suffix string, ok bool) {
	base := len(path) - len(filepath.Base(path))
	end := len(path)
	for end > base && !isDigit(path[end-1]) {
		end--
	}
	if end == base {
		return "", "", "", false
	}
	begin := end
	for begin > base && isDigit(path[begin-1]) {
		begin--
	}
	return path[:begin], path[begin:end], path[end:], true
}

// linkSequence links frames into dir as frame-000001<ext>, ... and returns
// the image2 pattern of the links. The frames must share their extension
// (FFmpeg picks the image decoder by it).
func linkSequence(frames []string, dir string) (string, error) {
	ext := filepath.Ext(frames[0])
	for _, f := range frames {
		if !strings.EqualFold(filepath.Ext(f), ext) {
			return "", fmt.Errorf("the frames have several extensions (%s, %s)", ext, filepath.Ext(f))
		}
	}
	const verb = "%06d"
	for i, f := range frames {
		link := filepath.Join(dir, "frame-"+fmt.Sprintf(verb, i+1)+ext)
		if err := os.Symlink(f, link); err != nil {
			if lerr := os.Link(f, link); lerr != nil {
				return "", errors.Join(err, lerr)
			}
		}
	}
	return filepath.Join(strings.ReplaceAll(dir, "%", "%%"), "frame-"+verb+strings.ReplaceAll(ext, "%", "%%")), nil
}
