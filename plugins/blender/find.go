package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/cajonfarm/cajon/plugins/internal/cmdline"
	"github.com/cajonfarm/cajon/plugins/internal/ospath"
)

// Flamenco's default "blender" variable is the bare name blender, and
// Windows and macOS nodes rarely have Blender in PATH. The stock worker then
// runs the Blender the system knows: on Windows the program that opens
// .blend files, on macOS the one in /Applications. findBlender does the
// same, and says so in the task log.

// macBlender is where Blender's macOS disk image installs it.
const macBlender = "/Applications/Blender.app/Contents/MacOS/Blender"

// blenderElsewhere is where a system looks for Blender when PATH does not
// have it.
type blenderElsewhere struct {
	// where says where, for the log and for errors.
	where string
	// find returns the Blender found there, or why there is none.
	find func() (string, error)
}

// elsewhereFor is the place Blender is looked for on goos, if any.
func elsewhereFor(goos string) (blenderElsewhere, bool) {
	switch goos {
	case "windows":
		return blenderElsewhere{"the program Windows opens .blend files with", associatedBlender}, true
	case "darwin":
		return blenderElsewhere{macBlender, func() (string, error) { return programAt(macBlender) }}, true
	}
	return blenderElsewhere{}, false
}

// findBlender finds the Blender to run as p.Find does; when that fails for
// a bare name (no folder), it tries the system's own Blender, and logs the
// one it takes.
func findBlender(p cmdline.Program, logf func(string, ...any)) (string, error) {
	elsewhere, ok := elsewhereFor(runtime.GOOS)
	return findBlenderOr(p, elsewhere, ok, logf)
}

// findBlenderOr is findBlender with the system's place given (ok false:
// none), so that every system's fallback is tested on any.
func findBlenderOr(p cmdline.Program, elsewhere blenderElsewhere, ok bool, logf func(string, ...any)) (string, error) {
	exe, err := p.Find()
	if err == nil {
		return exe, nil
	}
	name := wantedName(p)
	if !ok || strings.ContainsAny(name, `/\`) {
		return "", err
	}
	found, ferr := elsewhere.find()
	if ferr != nil {
		return "", fmt.Errorf("%w; nor is there a Blender at %s: %v", err, elsewhere.where, ferr)
	}
	logf("cajon-plugin-blender: %q is not in PATH; running %s, found at %s", name, found, elsewhere.where)
	return found, nil
}

// wantedName is the value p.Find looks for: the task's exe, else the
// configured one, else the program's name.
func wantedName(p cmdline.Program) string {
	switch {
	case p.Param != "" && p.Param != p.Name:
		return p.Param
	case p.Configured != "":
		return p.Configured
	}
	return p.Name
}

// programAt returns path when it is a file (not a folder).
func programAt(path string) (string, error) {
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("%s does not exist", path)
	case err != nil:
		return "", err
	case info.IsDir():
		return "", fmt.Errorf("%s is a folder, not a program", path)
	}
	return path, nil
}

// launcherName is the program Blender's Windows installer associates .blend
// files with: it starts blender.exe beside it and returns at once, so a
// render must run blender.exe itself.
const launcherName = "blender-launcher.exe"

// blenderBeside returns the blender.exe to run for the associated program
// exe, in Windows path syntax s: blender.exe beside blender-launcher.exe,
// else exe itself.
func blenderBeside(s ospath.Syntax, exe string) string {
	if strings.EqualFold(s.Base(exe), launcherName) {
		return s.Join(s.Dir(exe), "blender.exe")
	}
	return exe
}
