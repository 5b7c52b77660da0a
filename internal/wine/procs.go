//go:build unix

package wine

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Process is one live Windows process of the prefix, seen from Linux.
type Process struct {
	// PID is its Linux pid (not the Windows one).
	PID int
	// Cmdline is its Windows command line as wine shows it, e.g.
	// `C:\windows\system32\ping.exe -n 1000 127.0.0.1`.
	Cmdline string
}

// Name is the lower-case file name of the process's program, e.g. "ping.exe".
func (p Process) Name() string {
	first := p.Cmdline
	if i := strings.IndexByte(first, ' '); i >= 0 {
		first = first[:i]
	}
	if i := strings.LastIndexAny(first, `\/`); i >= 0 {
		first = first[i+1:]
	}
	return strings.ToLower(first)
}

// wineOwn reports wine's own programs, which it starts on demand for
// whichever process needs them first and keeps running: not a test's
// processes. name is a Process.Name.
func wineOwn(name string) bool {
	switch name {
	case "wineserver", "wineserver64", "wine", "wine64", "wine64-preloader",
		"services.exe", "winedevice.exe", "plugplay.exe", "explorer.exe", "rpcss.exe",
		"svchost.exe", "conhost.exe", "winemenubuilder.exe", "wineboot.exe", "start.exe":
		return true
	}
	return false
}

// Processes lists the live Windows processes of the prefix that carry mark
// (Command sets it), leaving out wine's own (wineserver, services.exe,
// conhost.exe and the like) and the start.exe that `wine program` runs
// between the Linux caller and the program. Zombies count as gone.
func (e *Env) Processes(mark string) ([]Process, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	wantPrefix := []byte("WINEPREFIX=" + e.Prefix)
	wantMark := []byte(markEnv + "=" + mark)
	var out []Process
	for _, ent := range entries {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		dir := filepath.Join("/proc", ent.Name())
		environ, err := os.ReadFile(filepath.Join(dir, "environ"))
		if err != nil || !hasEntry(environ, wantPrefix) || !hasEntry(environ, wantMark) {
			continue
		}
		if zombie(dir) {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, "cmdline"))
		if err != nil || len(raw) == 0 {
			continue
		}
		p := Process{PID: pid, Cmdline: strings.TrimSpace(strings.ReplaceAll(string(raw), "\x00", " "))}
		if wineOwn(p.Name()) {
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

// hasEntry reports whether the NUL-separated environ holds the entry kv.
func hasEntry(environ, kv []byte) bool {
	for _, e := range bytes.Split(environ, []byte{0}) {
		if bytes.Equal(e, kv) {
			return true
		}
	}
	return false
}

// zombie reports whether the process of /proc/<pid> dir has exited and
// waits to be reaped (wine's processes are orphans of a Linux parent that
// may never reap them).
func zombie(dir string) bool {
	raw, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return true
	}
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

// KillLinux kills the Linux process pid with SIGKILL: a Windows process dies
// without a word, as by a power cut of that one process.
func KillLinux(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }

// Interrupt sends SIGINT to the Linux process pid: wine turns it into a
// CTRL_C_EVENT for the Windows process, as Ctrl+C in its console would.
func Interrupt(pid int) error { return syscall.Kill(pid, syscall.SIGINT) }
