package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/cajonfarm/cajon/plugins/internal/ospath"
)

// takesValue reports whether a Blender option takes one argument, which must
// be skipped so that it is not mistaken for an option ("--python-expr '-f'"
// renders nothing).
func takesValue(option string) bool {
	switch option {
	case "-o", "--render-output", "-F", "--render-format", "-E", "--engine", "-S", "--scene",
		"-t", "--threads", "-x", "--use-extension", "-P", "--python",
		"--python-expr", "--python-text", "--python-exit-code", "--addons", "--app-template",
		"--log", "--log-level", "--log-file", "--debug-value", "--env-system-datafiles",
		"--env-system-scripts", "--env-system-python":
		return true
	}
	return false
}

// outputDirsInArgs returns the folders that -o/--render-output write into:
// the folder part of "DIR/frame-######", or DIR itself for "DIR/", read in
// the path syntax s of the system Blender runs on. Paths relative to the
// blend file ("//...") are left to Blender.
func outputDirsInArgs(s ospath.Syntax, args []string) []string {
	var dirs []string
	for i := 0; i+1 < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if a != "-o" && a != "--render-output" {
			if takesValue(a) {
				i++
			}
			continue
		}
		i++
		out := args[i]
		if out == "" || strings.HasPrefix(out, "//") {
			continue
		}
		if s.IsSeparator(out[len(out)-1]) {
			dirs = append(dirs, out)
		} else if dir := s.Dir(out); dir != "." {
			dirs = append(dirs, dir)
		}
	}
	return dirs
}

// framesInArgs counts the frames Blender's arguments ask it to render:
// every -f/--render-frame list ("5", "1..10", "1,3,7..9"), plus -a with -s,
// -e and -j. It returns 0 when the count depends on the scene (relative
// frames "+2" or "-1", -a without both -s and -e) or an argument is not
// understood, so that progress then reports no total rather than a wrong one.
func framesInArgs(args []string) int64 {
	var (
		total              int64
		start, end         int64
		haveStart, haveEnd bool
		jump               int64 = 1
		anim               bool
	)
	next := func(i int) (string, bool) {
		if i+1 < len(args) {
			return args[i+1], true
		}
		return "", false
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			i = len(args) // the rest is for Python scripts
		case a == "-f" || a == "--render-frame":
			v, ok := next(i)
			if !ok {
				return 0
			}
			i++
			n, ok := countFrameList(v)
			if !ok {
				return 0
			}
			total += n
		case a == "-s" || a == "--frame-start" || a == "-e" || a == "--frame-end" || a == "-j" || a == "--frame-jump":
			v, ok := next(i)
			if !ok {
				return 0
			}
			i++
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || strings.HasPrefix(v, "+") {
				return 0 // relative to the scene's range
			}
			switch a {
			case "-s", "--frame-start":
				start, haveStart = n, true
			case "-e", "--frame-end":
				end, haveEnd = n, true
			default:
				if n < 1 {
					return 0
				}
				jump = n
			}
		case a == "-a" || a == "--render-anim":
			anim = true
		case takesValue(a):
			i++
		}
	}
	if anim {
		if !haveStart || !haveEnd || end < start {
			return 0
		}
		total += (end-start)/jump + 1
	}
	return total
}

// countFrameList counts the frames of a -f argument: comma-separated frames
// and inclusive ranges "A..B". Relative frames ("+1", "-1") are not
// countable without the scene.
func countFrameList(list string) (int64, bool) {
	var n int64
	for _, item := range strings.Split(list, ",") {
		if item == "" || item[0] == '+' || item[0] == '-' {
			return 0, false
		}
		from, to, isRange := strings.Cut(item, "..")
		a, err := strconv.ParseInt(from, 10, 64)
		if err != nil {
			return 0, false
		}
		if !isRange {
			n++
			continue
		}
		if to == "" || to[0] == '+' || to[0] == '-' {
			return 0, false
		}
		b, err := strconv.ParseInt(to, 10, 64)
		if err != nil {
			return 0, false
		}
		if b < a {
			return 0, false // Blender ignores such a range, with a warning
		}
		n += b - a + 1
	}
	return n, true
}

// maxCheckedFrames bounds how many frames of one task are looked for on
// disk; a task asking for more is judged by Blender's output alone.
const maxCheckedFrames = 10000

// frameClockSlack is how much older than the render's start a frame file
// may look and still count as written by it: shared storage stamps files
// with its own clock, which may run a little behind the worker's.
const frameClockSlack = 5 * time.Second

// askedFrames is what Blender's arguments ask it to write.
type askedFrames struct {
	asks bool // -f or -a: the task renders frames
	// frames are the frame numbers asked for; nil when they depend on the
	// scene (relative frames, -a without -s and -e) or are too many.
	frames []int64
	// pattern is the last -o/--render-output, "" when the scene's own
	// output path applies; blendDir resolves "//" in it.
	pattern, blendDir string
}

// askedFramesInArgs reads the frames and the output pattern from Blender's
// arguments, as framesInArgs counts them.
func askedFramesInArgs(args []string, blendDir string) askedFrames {
	a := askedFrames{blendDir: blendDir}
	var (
		start, end         int64
		haveStart, haveEnd bool
		jump               int64 = 1
		anim, countable          = false, true
	)
	for i := 0; i < len(args); i++ {
		arg := args[i]
		val := ""
		if i+1 < len(args) {
			val = args[i+1]
		}
		switch {
		case arg == "--":
			i = len(args)
		case arg == "-o" || arg == "--render-output":
			a.pattern = val
			i++
		case arg == "-f" || arg == "--render-frame":
			a.asks = true
			i++
			nums, ok := frameList(val)
			countable = countable && ok
			a.frames = append(a.frames, nums...)
		case arg == "-s" || arg == "--frame-start" || arg == "-e" || arg == "--frame-end" || arg == "-j" || arg == "--frame-jump":
			i++
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil || strings.HasPrefix(val, "+") {
				countable = false
				continue
			}
			switch arg {
			case "-s", "--frame-start":
				start, haveStart = n, true
			case "-e", "--frame-end":
				end, haveEnd = n, true
			default:
				jump = n
			}
		case arg == "-a" || arg == "--render-anim":
			a.asks, anim = true, true
		case takesValue(arg):
			i++
		}
	}
	if anim {
		if !haveStart || !haveEnd || end < start || jump < 1 || (end-start)/jump >= maxCheckedFrames {
			countable = false
		} else {
			for f := start; f <= end; f += jump {
				a.frames = append(a.frames, f)
			}
		}
	}
	if !countable || len(a.frames) > maxCheckedFrames {
		a.frames = nil
	}
	return a
}

// frameList lists the frames of a -f argument (see countFrameList).
func frameList(list string) ([]int64, bool) {
	n, ok := countFrameList(list)
	if !ok || n > maxCheckedFrames {
		return nil, false
	}
	var out []int64
	for _, item := range strings.Split(list, ",") {
		from, to, isRange := strings.Cut(item, "..")
		a, _ := strconv.ParseInt(from, 10, 64)
		b := a
		if isRange {
			b, _ = strconv.ParseInt(to, 10, 64)
		}
		for f := a; f <= b; f++ {
			out = append(out, f)
		}
	}
	return out, true
}

// framePath is the file Blender writes frame into for an output pattern,
// without the extension Blender may add: the last run of '#' in the file
// name becomes the zero-padded frame number; without one, four digits are
// appended (Blender's BLI_path_frame).
func framePath(pattern string, frame int64) string {
	slash := strings.LastIndexAny(pattern, `/\`)
	name := pattern[slash+1:]
	end := strings.LastIndexByte(name, '#')
	if end < 0 {
		return fmt.Sprintf("%s%04d", pattern, frame)
	}
	start := end
	for start > 0 && name[start-1] == '#' {
		start--
	}
	digits := end - start + 1
	return pattern[:slash+1] + name[:start] + fmt.Sprintf("%0*d", digits, frame) + name[end+1:]
}

// onDisk counts the frames asked for whose files exist and were written
// since since; -1 when that cannot be told (frames or pattern unknown).
func (a askedFrames) onDisk(workDir string, since time.Time) int64 {
	if a.frames == nil || a.pattern == "" {
		return -1
	}
	pattern := a.pattern
	if rel, ok := strings.CutPrefix(pattern, "//"); ok {
		if a.blendDir == "" {
			return -1
		}
		pattern = filepath.Join(a.blendDir, rel)
	}
	pattern = resolve(workDir, pattern)
	since = since.Add(-frameClockSlack)
	var n int64
	for _, f := range a.frames {
		if f < 0 {
			return -1 // Blender's own sign rules; not worth guessing
		}
		if frameWritten(framePath(pattern, f), since) {
			n++
		}
	}
	return n
}

// frameWritten reports whether a frame's file, as base or base with any
// extension, was written since since.
func frameWritten(base string, since time.Time) bool {
	candidates := []string{base}
	if glob, ok := globEscape(base); ok {
		if more, err := filepath.Glob(glob + ".*"); err == nil {
			candidates = append(candidates, more...)
		}
	}
	for _, c := range candidates {
		if info, err := os.Stat(c); err == nil && info.Mode().IsRegular() && !info.ModTime().Before(since) {
			return true
		}
	}
	return false
}

// globEscape quotes the characters filepath.Glob treats specially; false
// where it cannot (Windows has no escape: '\' is its separator).
func globEscape(path string) (string, bool) {
	if runtime.GOOS == "windows" {
		return path, !strings.ContainsAny(path, "*?[")
	}
	var b strings.Builder
	for _, r := range path {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String(), true
}

// workAfterFrames returns the first argument after Blender's last render
// argument (-f, -a) that runs a script (-P, --python, --python-expr,
// --python-text, --python-console), or "". Blender handles its arguments in
// order: such a script runs once the frames are saved, so a render that
// goes on after its last frame is not a Blender that will not quit.
func workAfterFrames(args []string) string {
	script := ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch a {
		case "--":
			return script // the rest is for Python scripts
		case "-f", "--render-frame", "-a", "--render-anim":
			script = ""
			if a == "-f" || a == "--render-frame" {
				i++
			}
			continue
		case "-P", "--python", "--python-expr", "--python-text", "--python-console":
			if script == "" {
				script = a
			}
		}
		if takesValue(a) {
			i++
		}
	}
	return script
}
