package plugins_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/plugins"
	"github.com/cajonfarm/cajon/internal/testbin"
)

// binDir holds the binaries built once for this test run by TestMain;
// foreignDir the plugin written without the SDK (internal/foreignplugin).
var binDir, foreignDir string

func TestMain(m *testing.M) {
	if runtime.GOOS != "linux" {
		fmt.Println("host/plugins end-to-end tests need Linux")
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "cajon-plugins-test-")
	if err != nil {
		panic(err)
	}
	if err := testbin.Build(dir, "exec", "testkit", "foreign"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// The foreign plugin has a folder of its own: the other tests' registries
	// do not start it.
	foreignDir = filepath.Join(dir, "foreign")
	if err := os.Mkdir(foreignDir, 0o755); err != nil {
		panic(err)
	}
	if err := os.Rename(filepath.Join(dir, "plugins", "cajon-plugin-foreign"), filepath.Join(foreignDir, "cajon-plugin-foreign")); err != nil {
		panic(err)
	}
	if err := buildClashPlugins(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// No proctree.SetSubreaper here: Open must make the process one, or
	// TestCrashWithATreeLeavesNothing finds the crashed plugin's orphans gone
	// to init (and TestOpenMakesTheHostASubreaper fails).
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func open(t *testing.T, dirs []string, opts ...func(*plugins.Options)) *plugins.Registry {
	t.Helper()
	o := plugins.Options{Dirs: dirs}
	for _, f := range opts {
		f(&o)
	}
	reg, err := plugins.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	return reg
}

// collector records a command's events.
type collector struct {
	mu    sync.Mutex
	lines []string
	pids  []int
	peaks []int64
}

func (c *collector) PeakMemory(n int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.peaks = append(c.peaks, n)
}

func (c *collector) Log(lines []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines = append(c.lines, lines...)
}

func (c *collector) Child(p plugins.ChildProcess) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !p.Exited {
		c.pids = append(c.pids, p.PID)
	}
}

func (c *collector) Progress(plugins.Progress) {}
func (c *collector) Output(plugins.Output)     {}

// eventFuncs is a plugins.Events that hands each kind of event to its func,
// if set.
type eventFuncs struct {
	log      func([]string)
	progress func(plugins.Progress)
	child    func(plugins.ChildProcess)
}

func (e eventFuncs) Log(lines []string) {
	if e.log != nil {
		e.log(lines)
	}
}

func (e eventFuncs) Progress(p plugins.Progress) {
	if e.progress != nil {
		e.progress(p)
	}
}

func (e eventFuncs) Child(c plugins.ChildProcess) {
	if e.child != nil {
		e.child(c)
	}
}

func (e eventFuncs) Output(plugins.Output) {}

var runCounter int

func req(command string, params map[string]any) plugins.Request {
	runCounter++
	return plugins.Request{TaskID: "t", RunID: fmt.Sprintf("run-%d-%d", os.Getpid(), runCounter), Command: command, Params: params}
}

func TestRegistryDescribesAndRuns(t *testing.T) {
	reg := open(t, []string{filepath.Join(binDir, "plugins")})
	if got := reg.TaskTypes(); strings.Join(got, ",") != "misc,test" {
		t.Fatalf("task types %v", got)
	}
	ci, ok := reg.Command("echo")
	if !ok || ci.Plugin != "exec" {
		t.Fatalf("echo: %v %v", ci, ok)
	}
	var c collector
	res := reg.Run(context.Background(), req("echo", map[string]any{"message": "hi there"}), &c)
	if res.Status != plugins.Completed || strings.Join(c.lines, "|") != "hi there" {
		t.Fatalf("got %v %q", res, c.lines)
	}
	// A number in an argument list is passed as the stock worker formats it.
	c = collector{}
	res = reg.Run(context.Background(), req("exec", map[string]any{"exe": "/bin/echo", "args": []any{"-r", 23.976, 24.0, true}}), &c)
	if res.Status != plugins.Completed || !slices.Contains(c.lines, "-r 23.976 24 true") {
		t.Fatalf("exec with numbers in args: %v %q", res, c.lines)
	}
	if err := reg.CheckParams("exec", map[string]any{"exe": "/bin/echo", "args": []any{"-r", 23.976}}, true); err != nil {
		t.Fatalf("CheckParams refuses a number in a list: %v", err)
	}
	if err := reg.CheckParams("sleep", map[string]any{"duration_in_seconds": "x"}, false); err == nil ||
		!strings.Contains(err.Error(), `parameter "duration_in_seconds": expected a number, got a string ("x")`) {
		t.Fatalf("CheckParams: %v", err)
	}
	if err := reg.CheckParams("nope", nil, false); err == nil || !strings.Contains(err.Error(), `no plugin provides command "nope"; the plugins are: `) {
		t.Fatalf("CheckParams unknown: %v", err)
	}
}

func TestDuplicateCommandIsAStartupError(t *testing.T) {
	other := t.TempDir()
	copyFile(t, filepath.Join(binDir, "plugins", "cajon-plugin-exec"), filepath.Join(other, "cajon-plugin-exec2"))
	_, err := plugins.Open(context.Background(), plugins.Options{Dirs: []string{filepath.Join(binDir, "plugins"), other}})
	// The copy says its name is "exec": it is refused for the misnaming, and
	// the registry still opens with the original.
	if err != nil {
		t.Fatalf("a misnamed copy must be left out, not fail the registry: %v", err)
	}
	// Two differently named plugins claiming "echo": a start-up error naming both.
	dup := t.TempDir()
	writeScriptPlugin(t, dup)
	_, err = plugins.Open(context.Background(), plugins.Options{Dirs: []string{filepath.Join(binDir, "plugins"), dup}})
	if err == nil || !strings.Contains(err.Error(), `command "echo" is provided by both plugin "exec"`) || !strings.Contains(err.Error(), `plugin "testdup"`) {
		t.Fatalf("want a conflict naming both plugins, got %v", err)
	}
}

// writeScriptPlugin builds a second plugin that also declares "echo".
func writeScriptPlugin(t *testing.T, dir string) {
	t.Helper()
	src := t.TempDir()
	root, err := testbin.Root()
	if err != nil {
		t.Fatal(err)
	}
	main := `package main

import (
	"context"
	"github.com/cajonfarm/cajon/sdk"
)

type Echo struct{ M string ` + "`param:\"message\"`" + ` }

func (e *Echo) Run(context.Context, *sdk.Run) error { return nil }

func main() {
	sdk.Serve(sdk.Plugin{Name: "testdup", Commands: []sdk.Command{sdk.NewCommand[Echo]("echo", "misc", "")}})
}
`
	pkg := filepath.Join(root, "internal", "testplugin", "dup_"+strconv.Itoa(os.Getpid()))
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(pkg) })
	if err := os.WriteFile(filepath.Join(pkg, "main.go"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	_ = src
	if out, err := goBuild(root, filepath.Join(dir, "cajon-plugin-testdup"), "./"+mustRel(t, root, pkg)); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
}

func TestAbortKillsTheWholeTree(t *testing.T) {
	reg := open(t, []string{filepath.Join(binDir, "plugins")})
	pidDir := t.TempDir()
	script, _ := filepath.Abs("testdata/nasty.sh")
	ctx, cancel := context.WithCancel(context.Background())
	r := req("test-tree", map[string]any{"script": "sh " + script + " " + pidDir})
	r.Grace = 500 * time.Millisecond
	done := make(chan plugins.Result, 1)
	var c collector
	go func() { done <- reg.Run(ctx, r, &c) }()
	pids := waitForPids(t, pidDir, "root", "ignore", "setsid", "daemon", "setsid-daemon")
	cancel()
	res := <-done
	if res.Status != plugins.Canceled {
		t.Fatalf("status %v %q, want canceled", res.Status, res.Message)
	}
	assertAllGone(t, pids)
	// The plugin survived the abort and still works.
	if res := reg.Run(context.Background(), req("echo", map[string]any{"message": "after"}), nil); res.Status != plugins.Completed {
		t.Fatalf("plugin broken after abort: %v", res)
	}
}

func TestCrashFailsOnlyThatCommand(t *testing.T) {
	reg := open(t, []string{filepath.Join(binDir, "plugins")})
	res := reg.Run(context.Background(), req("test-crash", nil), nil)
	if res.Status != plugins.Failed || !strings.Contains(res.Message, `plugin "testkit"`) || !strings.Contains(res.Message, "crashed while running command \"test-crash\"") {
		t.Fatalf("got %v %q", res.Status, res.Message)
	}
	// The next command gets a fresh plugin.
	if res := reg.Run(context.Background(), req("test-steps", map[string]any{"count": 2}), nil); res.Status != plugins.Completed {
		t.Fatalf("after crash: %v", res)
	}
}

func TestCrashWithATreeLeavesNothing(t *testing.T) {
	reg := open(t, []string{filepath.Join(binDir, "plugins")})
	pidDir := t.TempDir()
	script, _ := filepath.Abs("testdata/nasty.sh")
	done := make(chan plugins.Result, 1)
	go func() {
		done <- reg.Run(context.Background(), req("test-tree", map[string]any{"script": "sh " + script + " " + pidDir}), nil)
	}()
	pids := waitForPids(t, pidDir, "root", "ignore", "setsid", "daemon", "setsid-daemon")
	// Kill the plugin itself (not the command): the host must sweep the
	// orphans, which reparent to it and carry the run's tag.
	plugin := parentPluginOf(t, pids["root"])
	if p, err := os.FindProcess(plugin); err != nil {
		t.Fatal(err)
	} else if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	res := <-done
	if res.Status != plugins.Failed || !strings.Contains(res.Message, "crashed") {
		t.Fatalf("got %v %q", res.Status, res.Message)
	}
	assertAllGone(t, pids)
}

func TestHangingPluginIsKilledAfterGrace(t *testing.T) {
	reg := open(t, []string{filepath.Join(binDir, "plugins")})
	ctx, cancel := context.WithCancel(context.Background())
	r := req("test-hang", nil)
	r.Grace = 100 * time.Millisecond
	done := make(chan plugins.Result, 1)
	go func() { done <- reg.Run(ctx, r, nil) }()
	time.Sleep(200 * time.Millisecond)
	cancel()
	res := <-done
	if res.Status != plugins.Canceled || !strings.Contains(res.Message, `plugin "testkit" did not finish aborting command "test-hang"`) {
		t.Fatalf("got %v %q", res.Status, res.Message)
	}
	if res := reg.Run(context.Background(), req("test-steps", nil), nil); res.Status != plugins.Completed {
		t.Fatalf("after hang: %v", res)
	}
}

func TestFloodArrivesInBatches(t *testing.T) {
	reg := open(t, []string{filepath.Join(binDir, "plugins")})
	batches := 0
	lines := 0
	res := reg.Run(context.Background(), req("test-flood", map[string]any{"lines": 200000, "width": 40}), eventFuncs{log: func(batch []string) {
		batches++
		for _, line := range batch {
			if want := fmt.Sprintf("%08d", lines); !strings.HasPrefix(line, want) {
				t.Fatalf("line %d is %q: out of order or lost", lines, line)
			}
			lines++
		}
	}})
	if res.Status != plugins.Completed || lines != 200000 {
		t.Fatalf("got %v, %d lines", res, lines)
	}
	if batches > lines/100 {
		t.Fatalf("%d batches for %d lines: not batched", batches, lines)
	}
}

func TestReplacedBinaryIsUsedForTheNextCommand(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "cajon-plugin-testkit")
	copyFile(t, filepath.Join(binDir, "plugins", "cajon-plugin-testkit"), bin)
	reg := open(t, []string{dir})
	if res := reg.Run(context.Background(), req("test-steps", nil), nil); res.Status != plugins.Completed {
		t.Fatal(res)
	}
	before := reg.Running()
	// Replace it the way an installer does: write aside, rename over.
	copyFile(t, filepath.Join(binDir, "plugins", "cajon-plugin-testkit"), bin+".new")
	future := time.Now().Add(time.Minute)
	os.Chtimes(bin+".new", future, future)
	if err := os.Rename(bin+".new", bin); err != nil {
		t.Fatal(err)
	}
	if res := reg.Run(context.Background(), req("test-steps", nil), nil); res.Status != plugins.Completed {
		t.Fatal(res)
	}
	after := reg.Running()
	if len(before) != 1 || len(after) != 1 || pidOf(before[0]) == pidOf(after[0]) {
		t.Fatalf("want a new plugin process after the binary changed: before %v, after %v", before, after)
	}
}

func TestIdlePluginIsStopped(t *testing.T) {
	reg := open(t, []string{filepath.Join(binDir, "plugins")}, func(o *plugins.Options) { o.IdleTimeout = 100 * time.Millisecond })
	if res := reg.Run(context.Background(), req("echo", map[string]any{"message": "x"}), nil); res.Status != plugins.Completed {
		t.Fatal(res)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(reg.Running()) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("idle plugins still running: %v", reg.Running())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// And it starts again on demand.
	if res := reg.Run(context.Background(), req("echo", map[string]any{"message": "x"}), nil); res.Status != plugins.Completed {
		t.Fatal(res)
	}
}

func TestNotExecutableIsANote(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cajon-plugin-broken"), []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cajon-plugin-garbage"), []byte("#!/bin/sh\necho garbage\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	reg := open(t, []string{dir, filepath.Join(binDir, "plugins")})
	notes := strings.Join(reg.Notes(), "\n")
	if !strings.Contains(notes, "cajon-plugin-broken is not executable") || !strings.Contains(notes, "plugin garbage") {
		t.Fatalf("notes: %s", notes)
	}
	if _, ok := reg.Command("echo"); !ok {
		t.Fatal("the good plugins must still work")
	}
}

func TestDescribeCacheStartsNothingUntilNeeded(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "cajon-plugin-exec")
	copyFile(t, filepath.Join(binDir, "plugins", "cajon-plugin-exec"), bin)
	cache := filepath.Join(t.TempDir(), "described.json")
	withCache := func(o *plugins.Options) { o.DescribeCache = cache }

	first := open(t, []string{dir}, withCache)
	if len(first.Processes()) != 1 {
		t.Fatalf("without a cache the plugin must be started to describe it: %v", first.Processes())
	}
	first.Close()

	second := open(t, []string{dir}, withCache)
	if p := second.Processes(); len(p) != 0 {
		t.Fatalf("an unchanged plugin was started: %v", p)
	}
	if _, ok := second.Command("sleep"); !ok {
		t.Fatal("commands must come from the cache")
	}
	if res := second.Run(context.Background(), req("echo", map[string]any{"message": "lazy"}), nil); res.Status != plugins.Completed {
		t.Fatal(res)
	}
	if len(second.Processes()) != 1 {
		t.Fatalf("the plugin must start on first use: %v", second.Processes())
	}
	second.Close()

	// A changed binary is described again.
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(bin, later, later); err != nil {
		t.Fatal(err)
	}
	third := open(t, []string{dir}, withCache)
	if len(third.Processes()) != 1 {
		t.Fatalf("a changed plugin must be started to describe it again: %v", third.Processes())
	}
}
