package process

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/sdk/proctree"
)

func TestMain(m *testing.M) {
	// Like a plugin: orphans of the commands reparent to us.
	if err := proctree.SetSubreaper(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// proc is a process seen by a test: pid plus start time, so a reused pid is
// not mistaken for it.
type proc struct {
	pid   int
	start string
}

// procStat returns the start time and state of pid from /proc/<pid>/stat.
func procStat(pid int) (start, state string, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", "", false
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	return f[19], f[0], true
}

func record(t *testing.T, pid int) proc {
	t.Helper()
	start, _, ok := procStat(pid)
	if !ok {
		t.Fatalf("process %d is gone before the test could look at it", pid)
	}
	return proc{pid: pid, start: start}
}

// assertGone fails for every process that still exists, as a live process
// or as an unreaped zombie.
func assertGone(t *testing.T, procs []proc) {
	t.Helper()
	for _, p := range procs {
		if start, state, ok := procStat(p.pid); ok && start == p.start {
			t.Errorf("process %d survived Run (state %s)", p.pid, state)
		}
	}
}

// lines collects OnLine calls. It takes no lock on purpose: overlapping calls
// would be a data race, which the race detector reports.
type lines struct {
	got []string
}

func (l *lines) onLine(s Stream, line string) { l.got = append(l.got, s.String()+": "+line) }

func TestRunExit(t *testing.T) {
	tests := []struct {
		name       string
		path       string
		args       []string
		wantCode   int
		wantSignal string
		wantLines  []string
	}{
		{
			name: "exit 0 with output", path: "sh", args: []string{"testdata/output.sh", "0"},
			wantLines: []string{"stdout: first", "stdout: crlf", "stdout: bar\rredrawn", "stderr: to stderr", "stdout: no newline"},
		},
		{
			name: "exit 3 is not an error", path: "sh", args: []string{"testdata/output.sh", "3"}, wantCode: 3,
			wantLines: []string{"stdout: first", "stdout: crlf", "stdout: bar\rredrawn", "stderr: to stderr", "stdout: no newline"},
		},
		{
			name: "killed by a signal", path: "sh", args: []string{"-c", "kill -SEGV $$"},
			wantCode: -1, wantSignal: "segmentation fault",
		},
		{
			name: "absolute path, no output", path: "/bin/true",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l lines
			var started int
			res, err := Run(context.Background(), Command{
				Path: tt.path, Args: tt.args, Tag: "exit-test",
				OnStart: func(pid int) { started = pid },
				OnLine:  l.onLine,
			})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.ExitCode != tt.wantCode || res.Signal != tt.wantSignal || res.Canceled {
				t.Errorf("Result = %+v, want exit code %d, signal %q, not canceled", res, tt.wantCode, tt.wantSignal)
			}
			if res.Pid == 0 || res.Pid != started {
				t.Errorf("Result.Pid = %d, OnStart got %d; want the same non-zero pid", res.Pid, started)
			}
			// The two streams are read independently: compare each in order.
			for _, stream := range []string{"stdout: ", "stderr: "} {
				got, want := filterPrefix(l.got, stream), filterPrefix(tt.wantLines, stream)
				if !slices.Equal(got, want) {
					t.Errorf("%slines = %q, want %q", stream, got, want)
				}
			}
		})
	}
}

func filterPrefix(lines []string, prefix string) []string {
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

func TestRunEnvironmentAndDir(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		cmd  Command
		want []string
	}{
		{
			name: "given environment, tagged",
			cmd:  Command{Path: "sh", Args: []string{"-c", "echo $FOO $CAJON_RUN_ID $HOME"}, Env: []string{"FOO=bar", "PATH=" + os.Getenv("PATH")}, Tag: "run-7"},
			want: []string{"stdout: bar run-7"},
		},
		{
			name: "inherited environment",
			cmd:  Command{Path: "sh", Args: []string{"-c", "echo $HOME"}},
			want: []string{"stdout: " + os.Getenv("HOME")},
		},
		{
			name: "working directory",
			cmd:  Command{Path: "pwd", Dir: dir},
			want: []string{"stdout: " + dir},
		},
		{
			name: "given environment without the plugin's plumbing",
			cmd: Command{Path: "sh", Args: []string{"-c", "echo \"[$FOO][$PLUGIN_CLIENT_CERT][$CAJON_PLUGIN][$CAJON_LIFELINE_FD][$CAJON_HOST_DIR]\""},
				Env: []string{"FOO=bar", "PATH=" + os.Getenv("PATH"), "PLUGIN_CLIENT_CERT=secret", "CAJON_PLUGIN=cajon-plugin-v1",
					"CAJON_LIFELINE_FD=3", "CAJON_HOST_DIR=/opt/cajon"}},
			want: []string{"stdout: [bar][][][][]"},
		},
		{
			name: "inherited environment without the plugin's plumbing",
			cmd:  Command{Path: "sh", Args: []string{"-c", "echo \"[$PLUGIN_PROTOCOL_VERSIONS][$PLUGIN_MIN_PORT]\""}},
			want: []string{"stdout: [][]"},
		},
	}
	t.Setenv("PLUGIN_PROTOCOL_VERSIONS", "1")
	t.Setenv("PLUGIN_MIN_PORT", "10000")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l lines
			tt.cmd.OnLine = l.onLine
			if _, err := Run(context.Background(), tt.cmd); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(l.got, tt.want) {
				t.Errorf("lines = %q, want %q", l.got, tt.want)
			}
		})
	}
}

func TestRunStartFailure(t *testing.T) {
	tests := []struct {
		name     string
		cmd      Command
		wantText []string
	}{
		{name: "no such file", cmd: Command{Path: "/nonexistent/blender"}, wantText: []string{"/nonexistent/blender", "no such file"}},
		{name: "not in PATH", cmd: Command{Path: "cajon-no-such-program"}, wantText: []string{"cajon-no-such-program", "not found"}},
		{name: "not executable", cmd: Command{Path: "testdata/output.sh"}, wantText: []string{"testdata/output.sh", "permission denied"}},
		{name: "no such directory", cmd: Command{Path: "/bin/true", Dir: "/nonexistent/dir"}, wantText: []string{"/bin/true", "/nonexistent/dir"}},
		{name: "empty path", cmd: Command{}, wantText: []string{"no executable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Run(context.Background(), tt.cmd)
			if err == nil {
				t.Fatal("Run succeeded, want an error")
			}
			for _, s := range tt.wantText {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
}

// descendants returns every process below the test process now.
func descendants(t *testing.T) []proc {
	t.Helper()
	pids, err := proctree.Descendants(os.Getpid())
	if err != nil {
		t.Error(err)
	}
	var procs []proc
	for _, pid := range pids {
		if start, _, ok := procStat(pid); ok {
			procs = append(procs, proc{pid: pid, start: start})
		}
	}
	return procs
}

// TestRunCancel cancels a tree that uses every trick to survive: setsid,
// double fork, ignoring SIGTERM and SIGHUP, holding stdout open.
func TestRunCancel(t *testing.T) {
	tests := []struct {
		name       string
		ignoreTerm string
	}{
		{name: "tree obeys SIGTERM", ignoreTerm: ""},
		{name: "tree ignores SIGTERM", ignoreTerm: "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pidfile := filepath.Join(t.TempDir(), "pids")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var tree []proc
			go func() {
				defer cancel()
				// 5 shells write their pids; 4 of them run a sleep.
				for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
					if tree = descendants(t); len(tree) >= 9 {
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
			}()
			res, err := Run(ctx, Command{
				Path: "sh", Args: []string{"testdata/tree.sh", pidfile},
				Env:   append(os.Environ(), "IGNORE_TERM="+tt.ignoreTerm),
				Tag:   "cancel-" + t.Name(),
				Grace: 300 * time.Millisecond,
			})
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Run error = %v, want context.Canceled", err)
			}
			if !res.Canceled {
				t.Errorf("Result = %+v, want Canceled", res)
			}
			if len(tree) < 9 {
				t.Fatalf("saw %d processes of the tree, want 9", len(tree))
			}
			assertGone(t, tree)
		})
	}
}

// TestRunLeftovers runs commands whose main process exits at once, leaving
// a daemon that holds stdout open: Run must return after the drain, and the
// daemon must be gone.
func TestRunLeftovers(t *testing.T) {
	tests := []struct {
		name       string
		ignoreTerm string
	}{
		{name: "daemon obeys SIGTERM", ignoreTerm: ""},
		{name: "daemon ignores SIGTERM", ignoreTerm: "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var daemon []proc
			var got []string
			res, err := Run(context.Background(), Command{
				Path: "sh", Args: []string{"testdata/daemon.sh"},
				Env:   append(os.Environ(), "IGNORE_TERM="+tt.ignoreTerm, "READY="+filepath.Join(t.TempDir(), "ready")),
				Tag:   "leftover-" + t.Name(),
				Drain: 200 * time.Millisecond,
				Grace: 200 * time.Millisecond,
				OnLine: func(_ Stream, line string) {
					mu.Lock()
					defer mu.Unlock()
					got = append(got, line)
					if pid, ok := strings.CutPrefix(line, "daemon "); ok {
						n, _ := strconv.Atoi(pid)
						daemon = append(daemon, record(t, n))
					}
				},
			})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.ExitCode != 0 || res.Canceled {
				t.Errorf("Result = %+v, want exit code 0, not canceled", res)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(daemon) != 1 {
				t.Fatalf("lines = %q, want one naming the daemon", got)
			}
			assertGone(t, daemon)
		})
	}
}

// TestRunSerializesOnLine writes to both streams at once; lines.onLine takes
// no lock, so the race detector fails the test if calls overlap.
func TestRunSerializesOnLine(t *testing.T) {
	var l lines
	_, err := Run(context.Background(), Command{
		Path:   "sh",
		Args:   []string{"-c", "seq 1 20000 & seq 1 20000 >&2; wait"},
		OnLine: l.onLine,
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(l.got); n != 40000 {
		t.Errorf("got %d lines, want 40000", n)
	}
}

func TestRunAlreadyCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	started := false
	res, err := Run(ctx, Command{Path: "/bin/true", OnStart: func(int) { started = true }})
	if !errors.Is(err, context.Canceled) || !res.Canceled || started {
		t.Errorf("Run = %+v, %v (started %v); want canceled before starting", res, err, started)
	}
}

// BenchmarkLines streams 1,000,000 short lines (seq's output, 6.9 MB)
// through Run and OnLine.
func BenchmarkLines(b *testing.B) {
	const lines = 1_000_000
	var size int64
	for n := 1; n <= lines; n++ {
		size += int64(len(strconv.Itoa(n))) + 1
	}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		var count, bytes int64
		res, err := Run(context.Background(), Command{
			Path: "seq", Args: []string{strconv.Itoa(lines)},
			OnLine: func(_ Stream, line string) {
				count++
				bytes += int64(len(line)) + 1
			},
		})
		if err != nil || res.ExitCode != 0 {
			b.Fatalf("Run = %+v, %v", res, err)
		}
		if count != lines || bytes != size {
			b.Fatalf("got %d lines, %d bytes; want %d, %d", count, bytes, lines, size)
		}
	}
}
