package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// warmTask is a render a warm session can take: how its Blender starts and
// what the driver applies per task.
type warmTask struct {
	// key names the sessions that can take the task: the same Blender, the
	// same options before the blend file, blend file, environment and working
	// folder. The arguments after the blend file are not in it: the driver
	// applies them per task after a reload of the file, and checks that the
	// reload left the interpreter as a fresh Blender has it, so a task finds
	// the same Blender whatever the tasks before it asked (Single Image's
	// tiles differ in their output and script; each would start a Blender).
	key string
	// prefix is what the session's Blender starts with, before the driver:
	// exeArgs, argsBefore and the blend file.
	prefix []string
	// args follow the blend file; the driver applies them per task.
	args []string
	// argv is the cold command line, exe first.
	argv []string
	// device is the Cycles device its Blender starts with; "" = the scene's.
	device string
}

// Options a warm session may start with (before the blend file): they take
// effect once per process in a cold Blender too. Anything else there (a
// script, a render, another file) would happen once per session instead of
// once per task.
var warmStartFlags = map[string]bool{
	"-b": true, "--background": true, "-y": true, "--enable-autoexec": true,
	"-Y": true, "--disable-autoexec": true, "--factory-startup": true, "-noaudio": true,
	"--disable-crash-handler": true, "--disable-abort-handler": true, "--python-use-system-env": true,
}

// ... and those of them that take a value.
var warmStartOptions = map[string]bool{"-t": true, "--threads": true, "-setaudio": true, "--addons": true}

// Options the driver applies after the blend file, as Blender's command line
// does (warm_driver.py): plain options, and scripts, which the driver runs
// in argument order after each reload of the file.
const (
	plainOption = iota + 1
	frameOption
	scriptOption
)

var warmTaskOptions = map[string]int{
	"-S": plainOption, "--scene": plainOption, "-o": plainOption, "--render-output": plainOption,
	"-F": plainOption, "--render-format": plainOption, "-E": plainOption, "--engine": plainOption,
	"-x": plainOption, "--use-extension": plainOption, "--python-exit-code": plainOption,
	"-s": frameOption, "--frame-start": frameOption, "-e": frameOption, "--frame-end": frameOption,
	"-j": frameOption, "--frame-jump": frameOption, "-f": frameOption, "--render-frame": frameOption,
	"-P": scriptOption, "--python": scriptOption, "--python-expr": scriptOption,
}

// warmFormats are the --render-format names the driver knows
// (warm_driver.py FORMATS); movie formats are not among them.
var warmFormats = map[string]bool{
	"TGA": true, "RAWTGA": true, "JPEG": true, "IRIS": true, "PNG": true, "BMP": true, "HDR": true,
	"TIFF": true, "OPEN_EXR": true, "OPEN_EXR_MULTILAYER": true, "EXR": true, "MULTILAYER": true,
	"JP2": true, "CINEON": true, "DPX": true, "WEBP": true,
}

var (
	frameNumber = regexp.MustCompile(`^[+-]?[0-9]{1,10}$`)
	frameItem   = regexp.MustCompile(`^[+-]?[0-9]{1,10}(\.\.[+-]?[0-9]{1,10})?$`)
	exitCode    = regexp.MustCompile(`^[0-9]{1,3}$`)
)

// warmFor checks whether a render can run in a warm session and says why
// not. exe is the resolved Blender; its real path, size and modification
// time stand for its version.
func warmFor(exe string, exeArgs, argsBefore []string, blendFile string, args []string,
	workDir string, env map[string]string) (warmTask, string) {
	if blendFile == "" {
		return warmTask{}, "no blend file"
	}
	prefix := append(append([]string(nil), exeArgs...), argsBefore...)
	background := false
	for i := 0; i < len(prefix); i++ {
		a := prefix[i]
		switch {
		case a == "-b" || a == "--background":
			background = true
		case warmStartFlags[a]:
		case warmStartOptions[a] && i+1 < len(prefix):
			i++
		default:
			return warmTask{}, fmt.Sprintf("%q before the blend file is not an option a warm session starts with", a)
		}
	}
	if !background {
		return warmTask{}, "Blender does not run in the background (no -b)"
	}

	renders := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			// Blender reads no option past it: the rest is for the scripts,
			// in sys.argv. The Cycles add-on reads its own options there
			// when Blender starts, which the session did before this task.
			for _, rest := range args[i+1:] {
				if strings.HasPrefix(rest, "--c") {
					return warmTask{}, fmt.Sprintf("%q after \"--\" may be a Cycles option, which Cycles reads only when Blender starts", rest)
				}
			}
			break
		}
		if a == "-a" || a == "--render-anim" {
			renders = true
			continue
		}
		kind := warmTaskOptions[a]
		if kind == 0 {
			return warmTask{}, fmt.Sprintf("argument %q is not one the warm session applies", a)
		}
		if i+1 >= len(args) {
			return warmTask{}, fmt.Sprintf("argument %q has no value", a)
		}
		v := args[i+1]
		i++
		switch a {
		case "-f", "--render-frame":
			renders = true
			for _, item := range strings.Split(v, ",") {
				if !frameItem.MatchString(item) {
					return warmTask{}, fmt.Sprintf("frames %q are not a list of frames and ranges the warm session reads", v)
				}
			}
		case "-s", "--frame-start", "-e", "--frame-end", "-j", "--frame-jump":
			if !frameNumber.MatchString(v) {
				return warmTask{}, fmt.Sprintf("%s %q is not a frame number", a, v)
			}
		case "-F", "--render-format":
			if !warmFormats[v] {
				return warmTask{}, fmt.Sprintf("--render-format %s is not a still-image format the warm session writes", v)
			}
		case "--python-exit-code":
			if n, err := strconv.Atoi(v); err != nil || n < 0 || n > 255 || !exitCode.MatchString(v) {
				return warmTask{}, fmt.Sprintf("--python-exit-code %q is not a number from 0 to 255", v)
			}
		}
		if kind == scriptOption {
			// A script may render by itself (Single Image's tiles do:
			// bpy.ops.render.render(write_still=True)); the driver's end of
			// the task is when every argument is applied.
			renders = true
		}
	}
	if !renders {
		return warmTask{}, "the arguments render nothing (no --render-frame, --render-anim or script)"
	}

	blend := resolve(workDir, blendFile)
	blendInfo, err := os.Stat(blend)
	if err != nil {
		return warmTask{}, fmt.Sprintf("blend file: %v", err)
	}
	exeID, err := fileIdentity(exe)
	if err != nil {
		return warmTask{}, fmt.Sprintf("Blender executable: %v", err)
	}
	envKeys := make([]string, 0, len(env))
	for k := range env {
		envKeys = append(envKeys, k)
	}
	sort.Strings(envKeys)
	h := sha256.New()
	field := func(s string) { fmt.Fprintf(h, "%d:%s;", len(s), s) }
	field(exeID)
	field(fmt.Sprintf("%s %d %d", blend, blendInfo.Size(), blendInfo.ModTime().UnixNano()))
	field(workDir)
	for _, p := range prefix {
		field("prefix " + p)
	}
	for _, k := range envKeys {
		field("env " + k + "=" + env[k])
	}

	argv := append(append(append([]string{exe}, prefix...), blendFile), args...)
	return warmTask{
		key:    hex.EncodeToString(h.Sum(nil)),
		prefix: append(prefix, blendFile),
		args:   append([]string(nil), args...),
		argv:   argv,
	}, ""
}

// fileIdentity names the file a path leads to as it is now: its real path,
// size and modification time, so that a Blender updated in place is a new one.
func fileIdentity(path string) (string, error) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", err
	}
	info, err := os.Stat(real)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s %d %d", real, info.Size(), info.ModTime().UnixNano()), nil
}
