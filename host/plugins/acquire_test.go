package plugins_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/plugins"
	"github.com/cajonfarm/cajon/internal/testbin"
)

// clashVersions are the builds of testdata/clashplugin: the commands each
// declares, {name} being the plugin's name (its file name).
var clashVersions = map[string]string{
	"plain":              "{name}-hello",
	"claims-echo":        "{name}-hello,echo", // the exec plugin's
	"claims-clash-hello": "{name}-hello,clash-hello",
	"bye":                "{name}-bye",
}

// buildClashPlugins builds each version into dir/clash/<version>/plugin.
func buildClashPlugins(dir string) error {
	root, err := testbin.Root()
	if err != nil {
		return err
	}
	for version, commands := range clashVersions {
		out := filepath.Join(dir, "clash", version, "plugin")
		cmd := exec.Command("go", "build", "-ldflags", "-X main.commands="+commands, "-o", out, "./host/plugins/testdata/clashplugin")
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build the clash plugin (%s): %v\n%s", version, err, b)
		}
		// The host refuses binaries and folders that group or others may write.
		for _, p := range []string{out, filepath.Dir(out)} {
			if err := os.Chmod(p, 0o755); err != nil {
				return err
			}
		}
	}
	return nil
}

// clashDir is a plugin folder with the exec plugin and the plain clash plugin.
func clashDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	copyFile(t, filepath.Join(binDir, "plugins", "cajon-plugin-exec"), filepath.Join(dir, "cajon-plugin-exec"))
	installPlugin(t, dir, "clash", "plain", 0)
	return dir
}

// installClash replaces the clash plugin in dir with a version.
func installClash(t *testing.T, dir, version string, n int) {
	t.Helper()
	installPlugin(t, dir, "clash", version, n)
}

// installPlugin installs a version of the clash plugin as plugin name in
// dir, as an installer does (written aside, renamed over), with a
// modification time n minutes ahead so the host sees the change.
func installPlugin(t *testing.T, dir, name, version string, n int) {
	t.Helper()
	bin := filepath.Join(dir, "cajon-plugin-"+name)
	copyFile(t, filepath.Join(binDir, "clash", version, "plugin"), bin+".new")
	when := time.Now().Add(time.Duration(n) * time.Minute)
	if err := os.Chtimes(bin+".new", when, when); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(bin+".new", bin); err != nil {
		t.Fatal(err)
	}
}

// starts counts the observer's "started"/"restarted" events for plugin.
func starts(events []string, plugin string) int {
	n := 0
	for _, e := range events {
		if e == "started "+plugin || e == "restarted "+plugin {
			n++
		}
	}
	return n
}

func clashRunning(reg *plugins.Registry) bool {
	for _, p := range reg.Processes() {
		if p.Plugin == "clash" {
			return true
		}
	}
	return false
}

// A replaced binary that claims another plugin's command is refused at every
// acquire with the same error, is started only once to learn that, and
// serves nothing; the other plugin keeps its command; a fixed binary is taken
// at the next command.
func TestReplacedBinaryWithAConflictIsRefusedEveryTime(t *testing.T) {
	dir := clashDir(t)
	var obs eventLog
	reg := open(t, []string{dir}, func(o *plugins.Options) { o.Observer = &obs })
	if res := reg.Run(context.Background(), req("clash-hello", nil), nil); res.Status != plugins.Completed {
		t.Fatalf("before the replacement: %v", res)
	}
	obs.take()

	installClash(t, dir, "claims-echo", 1)
	wantParts := []string{
		"plugin clash is not used",
		fmt.Sprintf(`command "echo" is provided by both plugin "clash" (%s) and plugin "exec" (%s)`,
			filepath.Join(dir, "cajon-plugin-clash"), filepath.Join(dir, "cajon-plugin-exec")),
	}
	var first string
	for i := range 3 {
		res := reg.Run(context.Background(), req("clash-hello", nil), nil)
		if res.Status != plugins.Failed {
			t.Fatalf("acquire %d after the conflicting replacement: %v %q, want the conflict", i+1, res.Status, res.Message)
		}
		for _, w := range wantParts {
			if !strings.Contains(res.Message, w) {
				t.Fatalf("acquire %d: %q does not say %q", i+1, res.Message, w)
			}
		}
		if i == 0 {
			first = res.Message
		} else if res.Message != first {
			t.Fatalf("acquire %d: the error changed:\n%s\nwas\n%s", i+1, res.Message, first)
		}
		if clashRunning(reg) {
			t.Fatalf("acquire %d: the conflicting plugin runs: %v", i+1, reg.Processes())
		}
	}
	if n := starts(obs.take(), "clash"); n != 1 {
		t.Fatalf("the conflicting version was started %d times, want once (to learn its commands)", n)
	}
	var c collector
	if ci, _ := reg.Command("echo"); ci.Plugin != "exec" {
		t.Fatalf("echo now belongs to %q", ci.Plugin)
	}
	if res := reg.Run(context.Background(), req("echo", map[string]any{"message": "still exec"}), c.events); res.Status != plugins.Completed || strings.Join(c.lines, "|") != "still exec" {
		t.Fatalf("echo after the refused replacement: %v %q", res, c.lines)
	}

	// The conflict is gone with the next binary.
	installClash(t, dir, "plain", 2)
	c = collector{}
	if res := reg.Run(context.Background(), req("clash-hello", nil), c.events); res.Status != plugins.Completed || strings.Join(c.lines, "|") != "hello from clash-hello" {
		t.Fatalf("after the conflict is gone: %v %q", res, c.lines)
	}
}

// A refused replacement is taken once the other plugin no longer claims the
// command: the conflict can go from either side.
func TestRefusedReplacementIsTakenOnceTheOtherPluginGivesUpTheCommand(t *testing.T) {
	dir := t.TempDir()
	installPlugin(t, dir, "clash", "plain", 0)
	installPlugin(t, dir, "other", "plain", 0)
	reg := open(t, []string{dir})
	installPlugin(t, dir, "other", "claims-clash-hello", 1)
	for i := range 2 {
		res := reg.Run(context.Background(), req("other-hello", nil), nil)
		if res.Status != plugins.Failed || !strings.Contains(res.Message, `command "clash-hello" is provided by both plugin "clash"`) {
			t.Fatalf("run %d of the conflicting replacement: %v %q", i+1, res.Status, res.Message)
		}
	}
	if res := reg.Run(context.Background(), req("clash-hello", nil), nil); res.Status != plugins.Completed {
		t.Fatalf("clash-hello stays with clash: %v", res)
	}
	// clash drops the command. The registry learns it when clash is next
	// used: that run asks for the command the new clash no longer has.
	installPlugin(t, dir, "clash", "bye", 2)
	if res := reg.Run(context.Background(), req("clash-hello", nil), nil); res.Status != plugins.Failed {
		t.Fatalf("clash-hello sent to a clash without it: %v", res)
	}
	var c collector
	if res := reg.Run(context.Background(), req("other-hello", nil), c.events); res.Status != plugins.Completed || strings.Join(c.lines, "|") != "hello from other-hello" {
		t.Fatalf("the replacement after the conflict went: %v %q", res, c.lines)
	}
	if ci, _ := reg.Command("clash-hello"); ci.Plugin != "other" {
		t.Fatalf("clash-hello belongs to %q, want other", ci.Plugin)
	}
}

// Acquires that arrive together while a conflicting replacement is started
// all get the conflict; none is served by the conflicting process.
func TestConcurrentAcquiresOfAConflictingReplacementAllFail(t *testing.T) {
	dir := clashDir(t)
	var obs eventLog
	reg := open(t, []string{dir}, func(o *plugins.Options) { o.Observer = &obs })
	installClash(t, dir, "claims-echo", 1)
	obs.take()
	results := runTogether(reg, 8, "clash-hello")
	for i, res := range results {
		if res.Status != plugins.Failed || !strings.Contains(res.Message, `command "echo" is provided by both plugin "clash"`) {
			t.Errorf("run %d: %v %q, want the conflict", i, res.Status, res.Message)
		}
	}
	if n := starts(obs.take(), "clash"); n != 1 {
		t.Fatalf("%d launches for 8 acquires at once, want 1", n)
	}
}

// Acquires that arrive together for a plugin that is not running, or whose
// binary was replaced, start it once and share the process.
func TestConcurrentAcquiresStartThePluginOnce(t *testing.T) {
	dir := clashDir(t)
	cache := filepath.Join(t.TempDir(), "described.json")
	withCache := func(o *plugins.Options) { o.DescribeCache = cache }
	open(t, []string{dir}, withCache).Close() // fills the cache
	var obs eventLog
	reg := open(t, []string{dir}, withCache, func(o *plugins.Options) { o.Observer = &obs })
	if p := reg.Processes(); len(p) != 0 {
		t.Fatalf("described from the cache, nothing should run yet: %v", p)
	}
	for round, install := range []func(){func() {}, func() { installClash(t, dir, "plain", 1) }} {
		install()
		obs.take()
		for i, res := range runTogether(reg, 8, "clash-hello") {
			if res.Status != plugins.Completed {
				t.Fatalf("round %d, run %d: %v", round, i, res)
			}
		}
		if n := starts(obs.take(), "clash"); n != 1 {
			t.Fatalf("round %d: %d launches for 8 acquires at once, want 1", round, n)
		}
	}
}

// runTogether runs n copies of a command at the same time.
func runTogether(reg *plugins.Registry, n int, command string) []plugins.Result {
	reqs := make([]plugins.Request, n)
	for i := range reqs {
		reqs[i] = req(command, nil)
	}
	results := make([]plugins.Result, n)
	var ready, wg sync.WaitGroup
	ready.Add(n)
	gate := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ready.Done()
			<-gate
			results[i] = reg.Run(context.Background(), reqs[i], nil)
		}()
	}
	ready.Wait()
	close(gate)
	wg.Wait()
	return results
}
