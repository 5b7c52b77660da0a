package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/internal/testbin"
	"github.com/cajonfarm/cajon/internal/testwait"
	"github.com/cajonfarm/cajon/sdk"
	"github.com/cajonfarm/cajon/sdk/proctree"
)

// builtBinaries are the cajon host and this plugin, built once for the test
// binary when a test needs them (TestMain removes them).
type builtBinaries struct {
	once sync.Once
	dir  string
	err  error
}

var hostBinaries builtBinaries

// get builds the binaries the first time and returns their folder.
func (b *builtBinaries) get() (string, error) {
	b.once.Do(func() {
		b.dir, b.err = os.MkdirTemp("", "cajon-blender-test-")
		if b.err == nil {
			b.err = testbin.Build(b.dir, "blender")
		}
	})
	return b.dir, b.err
}

// hostRun starts `cajon plugins run blender-render` with params, its task
// log going to lines, in a temporary folder of its own (tmp); the caller
// waits for it.
func hostRun(t *testing.T, params map[string]any, env ...string) (host *exec.Cmd, lines <-chan string, tmp string) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the host tests use Unix signals")
	}
	bin, err := hostBinaries.get()
	if err != nil {
		t.Fatalf("building cajon and the blender plugin: %v", err)
	}
	raw, err := json.Marshal(params)
	if err != nil {
		t.Fatal(err)
	}
	tmp = t.TempDir()
	host = exec.Command(filepath.Join(bin, "cajon"), "plugins", "run", "blender-render", "--params", string(raw))
	host.Env = append(os.Environ(), append(env, "CAJON_STATE_DIR="+stateOf(tmp), "TMPDIR="+tmp)...)
	out, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	host.Stderr = host.Stdout
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = host.Process.Kill()
	})
	ch := make(chan string, 1000)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			ch <- sc.Text()
		}
	}()
	return host, ch, tmp
}

// stateOf is the state dir of the host that hostRun started with TMPDIR
// tmp: beside it, in the test's temporary folder, and short enough for the
// plugins' socket paths.
func stateOf(tmp string) string { return filepath.Join(filepath.Dir(tmp), "s") }

// warmFolders are the warm sessions' private folders of the host that
// hostRun started with TMPDIR tmp: in the plugin's private folder in the
// state dir, or (before issue 19) in TMPDIR.
func warmFolders(tmp string) []string {
	inState, _ := filepath.Glob(filepath.Join(stateOf(tmp), "run", "*", "*", "cajon-warm-*"))
	inTmp, _ := filepath.Glob(filepath.Join(tmp, "cajon-warm-*"))
	return append(inState, inTmp...)
}

// noSessionFolders fails the test if a warm session's private folder, or
// anything else, is left in tmp, or a warm folder in the state dir.
func noSessionFolders(t *testing.T, tmp string) {
	t.Helper()
	if left := warmFolders(tmp); len(left) > 0 {
		t.Errorf("warm session folders left behind: %q", left)
	}
	// cajon-preview is the previews' folder, kept by design (its run
	// folders go when the host has the previews).
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		var names []string
		for _, e := range left {
			if e.Name() != sdk.PreviewFolder {
				names = append(names, e.Name())
			}
		}
		if len(names) > 0 {
			t.Errorf("TMPDIR holds %q", names)
		}
	}
}

var sessionPidLine = regexp.MustCompile(`warm Blender session \(pid (\d+),`)

// waitLine reads lines until one contains want, up to two minutes, and
// returns the lines so far; it notes the warm session's pid on the way.
func waitLine(t *testing.T, lines <-chan string, want string, pid *int) []string {
	t.Helper()
	var seen []string
	timeout := time.After(2 * time.Minute)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the host ended before printing %q:\n%s", want, strings.Join(seen, "\n"))
			}
			seen = append(seen, l)
			if m := sessionPidLine.FindStringSubmatch(l); m != nil {
				*pid, _ = strconv.Atoi(m[1])
			}
			if strings.Contains(l, want) {
				return seen
			}
		case <-timeout:
			t.Fatalf("no %q from the host in two minutes:\n%s", want, strings.Join(seen, "\n"))
		}
	}
}

// TestWarmEndsWithThePlugin: the warm Blender a task left idle goes when the
// plugin stops (here: the host stops it when `cajon plugins run` ends).
func TestWarmEndsWithThePlugin(t *testing.T) {
	blender := needBlender(t)
	dir := t.TempDir()
	scene := makeScene(t, blender, dir)
	host, lines, tmp := hostRun(t, renderParams(scene, "-o", filepath.Join(dir, "frames", "######"), "-f", "1"))
	var pid int
	waitLine(t, lines, "Saved: ", &pid)
	if pid == 0 {
		t.Fatal("the task did not start a warm session")
	}
	for range lines {
	}
	if err := host.Wait(); err != nil {
		t.Fatalf("cajon plugins run: %v", err)
	}
	waitGone(t, pid, "the warm Blender after the plugin stopped")
	noSessionFolders(t, tmp)
}

// TestWarmSIGKILLOfTheHost kills the host with SIGKILL while a warm Blender
// renders: the plugin and the Blender must go too.
func TestWarmSIGKILLOfTheHost(t *testing.T) {
	blender := needBlender(t)
	dir := t.TempDir()
	scene := makeWarmScene(t, blender, dir, "PNG")
	host, lines, tmp := hostRun(t, renderParams(scene, "-o", filepath.Join(dir, "frames", "######"), "-f", "2"), "CAJON_TEST_HOOK=sleep")
	var pid int
	waitLine(t, lines, "hook: sleeping", &pid)
	if pid == 0 {
		t.Fatal("the task did not render in a warm session")
	}
	plugin := parentOf(t, pid)
	if err := host.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = host.Wait()
	waitGone(t, pid, "the warm Blender after SIGKILL of the host")
	waitGone(t, plugin, "the blender plugin after SIGKILL of the host")
	noSessionFolders(t, tmp)
}

// parentOf is a process's parent pid, from /proc.
func parentOf(t *testing.T, pid int) int {
	t.Helper()
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Skipf("no /proc to find the plugin: %v", err)
	}
	s := string(stat)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ppid, err := strconv.Atoi(fields[1])
	if err != nil {
		t.Fatalf("/proc/%d/stat: %q", pid, s)
	}
	return ppid
}

// TestWarmFoldersGoWithAKilledPlugin kills the plugin (SIGKILL) while its
// warm Blender starts, when the session's folder (driver script) exists:
// the host removes the plugin's private folder with it, so nothing is left
// in TMPDIR or the state dir.
func TestWarmFoldersGoWithAKilledPlugin(t *testing.T) {
	blender := needBlender(t)
	dir := t.TempDir()
	scene := makeWarmScene(t, blender, dir, "PNG")
	host, lines, tmp := hostRun(t, renderParams(scene, "-o", filepath.Join(dir, "frames", "######"), "-f", "1"))
	testwait.For(t, "the warm session's folder", func() bool { return len(warmFolders(tmp)) > 0 })
	plugin := 0
	pids, _ := proctree.Descendants(host.Process.Pid)
	for _, pid := range pids {
		if comm, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm"); strings.HasPrefix(string(comm), "cajon-plugin-bl") {
			plugin = pid
		}
	}
	if plugin == 0 {
		t.Fatalf("no blender plugin among the host's processes %v", pids)
	}
	if p, err := os.FindProcess(plugin); err != nil {
		t.Fatal(err)
	} else if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	for range lines {
	}
	_ = host.Wait() // the task failed: the plugin crashed
	waitGone(t, plugin, "the killed plugin")
	noSessionFolders(t, tmp)
	if left, _ := os.ReadDir(filepath.Join(stateOf(tmp), "run")); len(left) > 0 {
		t.Errorf("the state dir's run folder holds %v after the host ended", left)
	}
}
