package main

import (
	"strconv"
	"strings"

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
