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
	host.Env = append(os.Environ(), append(env, "CAJON_STATE_DIR="+t.TempDir(), "TMPDIR="+tmp)...)
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

// noSessionFolders fails the test if a warm session's private folder is
// left in tmp.
func noSessionFolders(t *testing.T, tmp string) {
	t.Helper()
	if left, _ := filepath.Glob(filepath.Join(tmp, "cajon-warm-*")); len(left) > 0 {
		t.Errorf("warm session folders left behind: %q", left)
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
