package proctree

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// helperEnv makes the test binary act as a plugin-like helper process: a
// subreaper that runs testdata/tree.sh below itself and waits.
const helperEnv = "PROCTREE_TEST_HELPER"

func TestMain(m *testing.M) {
	if pidfile := os.Getenv(helperEnv); pidfile != "" {
		os.Exit(runHelper(pidfile))
	}
	// Orphans of the trees under test must reparent to us, as they do to a
	// plugin in production.
	if err := SetSubreaper(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func runHelper(pidfile string) int {
	if err := SetSubreaper(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cmd := exec.Command("sh", "testdata/tree.sh", pidfile)
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	time.Sleep(time.Hour) // keep the orphans below us
	return 0
}

// proc is a process recorded by a test: pid plus start time.
type proc struct {
	pid   int
	start uint64
}

// state returns "gone" (no such process: exited and reaped), "zombie" or
// "alive".
func (p proc) state() string {
	info, ok := procState(p.pid)
	switch {
	case !ok || info.start != p.start:
		return "gone"
	case info.zombie:
		return "zombie"
	default:
		return "alive"
	}
}

func recordProc(t *testing.T, pid int) proc {
	t.Helper()
	info, ok := procState(pid)
	if !ok {
		t.Fatalf("process %d is gone before the test could look at it", pid)
	}
	return proc{pid: pid, start: info.start}
}

// waitPids waits until file holds n pids, one per line, and returns them.
func waitPids(t *testing.T, file string, n int) []int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, _ := os.ReadFile(file)
		lines := strings.Fields(string(data))
		if len(lines) >= n {
			pids := make([]int, 0, len(lines))
			for _, l := range lines {
				pid, err := strconv.Atoi(l)
				if err != nil {
					t.Fatalf("pid file %s: %v", file, err)
				}
				pids = append(pids, pid)
			}
			return pids
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid file %s has %d of %d pids after 10s: %q", file, len(lines), n, data)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// treeProcs is the number of pids testdata/tree.sh writes.
const treeProcs = 5

// startTree starts testdata/tree.sh contained, with stdout and stderr on a
// pipe that the tree keeps open. It returns the group, the read end of the
// pipe, and every process of the tree.
func startTree(t *testing.T, ignoreTerm bool) (*Group, *os.File, []proc) {
	t.Helper()
	pidfile := filepath.Join(t.TempDir(), "pids")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	cmd := exec.Command("sh", "testdata/tree.sh", pidfile)
	cmd.Env = append(os.Environ(), "IGNORE_TERM=")
	if ignoreTerm {
		cmd.Env = append(cmd.Env, "IGNORE_TERM=1")
	}
	cmd.Stdout, cmd.Stderr = w, w
	g, err := Start(cmd, Options{Tag: "run-" + t.Name()})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Terminate(context.Background(), 0); _ = g.Wait() })

	pids := waitPids(t, pidfile, treeProcs)
	// Sleepers run "sleep 300" as their child; wait for those too.
	var members []int
	deadline := time.Now().Add(10 * time.Second)
	for {
		members, err = g.Members()
		if err != nil {
			t.Fatal(err)
		}
		if len(members) >= 2*treeProcs-1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, pid := range pids {
		if !slices.Contains(members, pid) {
			t.Errorf("pid %d of the tree is not among the members %v", pid, members)
		}
	}
	var procs []proc
	for _, pid := range members {
		procs = append(procs, recordProc(t, pid))
	}
	return g, r, procs
}

// watchOrphans returns a Reaper that has seen the processes below this one
// as they are now, as the host's reaper has: once one of them is reparented
// to this process and exits, the Reaper may reap it.
func watchOrphans(t *testing.T) *Reaper {
	t.Helper()
	r := NewReaper()
	if _, err := r.Reap(nil); err != nil {
		t.Fatal(err)
	}
	return r
}

// waitAllGone waits until every process is gone: exited and reaped. A
// killed process is a zombie for a moment, and an orphan reparented to this
// process at its end waits for a reaper, which r plays (the host reaps
// every few seconds). The deadline only stops a hung test.
func waitAllGone(t *testing.T, procs []proc, r *Reaper) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := r.Reap(nil); err != nil {
			t.Fatal(err)
		}
		left := 0
		for _, p := range procs {
			if p.state() != "gone" {
				left++
			}
		}
		if left == 0 {
			return
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, p := range procs {
		if st := p.state(); st != "gone" {
			info, _ := procState(p.pid)
			t.Errorf("process %d (parent %d, group %d) is still %s 10s after the kill, want gone (exited and reaped)", p.pid, info.ppid, info.pgid, st)
		}
	}
}

// assertEOF checks that no process holds the write end of the pipe any more.
func assertEOF(t *testing.T, r *os.File) {
	t.Helper()
	if err := r.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(r); err != nil {
		t.Errorf("reading the tree's stdout after Terminate: %v (someone still holds it open)", err)
	}
}

func TestTerminate(t *testing.T) {
	tests := []struct {
		name          string
		ignoreTerm    bool
		grace         time.Duration
		wantEscalated bool
	}{
		// A long grace: if SIGTERM did not reach every member, Terminate
		// would have to escalate to SIGKILL, and Escalated would say so.
		{name: "tree that obeys SIGTERM stops without SIGKILL", grace: time.Minute},
		{name: "tree that ignores SIGTERM and SIGHUP is killed", ignoreTerm: true, grace: 200 * time.Millisecond, wantEscalated: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, r, procs := startTree(t, tt.ignoreTerm)
			orphans := watchOrphans(t)

			// Terminate twice, concurrently with Wait.
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i := range errs {
				wg.Go(func() { errs[i] = g.Terminate(context.Background(), tt.grace) })
			}
			waitErr := g.Wait()
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("Terminate call %d: %v", i, err)
				}
			}
			var exitErr *exec.ExitError
			if !errors.As(waitErr, &exitErr) {
				t.Errorf("Wait = %v, want the leader's exit by signal", waitErr)
			}
			if got := g.Escalated(); got != tt.wantEscalated {
				t.Errorf("Escalated = %v, want %v", got, tt.wantEscalated)
			}
			if members, err := g.Members(); err != nil || len(members) > 0 {
				t.Errorf("Members after Terminate = %v, %v; want none", members, err)
			}
			waitAllGone(t, procs, orphans)
			assertEOF(t, r)
			if err := g.Terminate(context.Background(), tt.grace); err != nil {
				t.Errorf("Terminate after the group is gone: %v", err)
			}
		})
	}
}

func TestTerminateCanceledContextKillsAtOnce(t *testing.T) {
	g, r, procs := startTree(t, true)
	orphans := watchOrphans(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// With a done context the hour of grace is skipped.
	if err := g.Terminate(ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	_ = g.Wait()
	if !g.Escalated() {
		t.Error("Escalated = false, want true")
	}
	waitAllGone(t, procs, orphans)
	assertEOF(t, r)
}

func TestStartTagsEnvironment(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		tag  string
		want string
	}{
		{name: "tag added", env: []string{"A=1"}, tag: "r1", want: "A=1\nCAJON_RUN_ID=r1\n"},
		{name: "inherited tag replaced", env: []string{"CAJON_RUN_ID=old", "A=1"}, tag: "r2", want: "A=1\nCAJON_RUN_ID=r2\n"},
		{name: "no tag removes inherited one", env: []string{"CAJON_RUN_ID=old", "A=1"}, want: "A=1\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command("/usr/bin/env")
			cmd.Env = tt.env
			out, err := os.CreateTemp(t.TempDir(), "env")
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stdout = out
			g, err := Start(cmd, Options{Tag: tt.tag})
			if err != nil {
				t.Fatal(err)
			}
			if err := g.Wait(); err != nil {
				t.Fatal(err)
			}
			if err := g.Terminate(context.Background(), time.Second); err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(out.Name())
			if string(got) != tt.want {
				t.Errorf("environment = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestStartFailure(t *testing.T) {
	cmd := exec.Command("/nonexistent/cajon-test-binary")
	_, err := Start(cmd, Options{Tag: "x"})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/cajon-test-binary") {
		t.Fatalf("Start error = %v, want one naming the executable", err)
	}
}

func TestDescendants(t *testing.T) {
	cmd := exec.Command("sh", "-c", "sleep 300 & sleep 300 & wait")
	g, err := Start(cmd, Options{Tag: "desc"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Terminate(context.Background(), 0); _ = g.Wait() })
	var ds []int
	for range 500 {
		if ds, err = Descendants(g.Pid()); err != nil {
			t.Fatal(err)
		}
		if len(ds) == 2 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(ds) != 2 {
		t.Fatalf("Descendants(%d) = %v, want the two sleeps", g.Pid(), ds)
	}
	mine, err := Descendants(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for _, pid := range append(ds, g.Pid()) {
		if !slices.Contains(mine, pid) {
			t.Errorf("Descendants(self) = %v, misses %d", mine, pid)
		}
	}
}

// TestKillTree kills a subreaper helper (like a hung plugin) whose command
// tree has orphans reparented to the helper.
func TestKillTree(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "pids")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+pidfile, "IGNORE_TERM=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	waitPids(t, pidfile, treeProcs)
	var procs []proc
	deadline := time.Now().Add(10 * time.Second)
	for {
		ds, err := Descendants(cmd.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) >= 2*treeProcs-1 || time.Now().After(deadline) {
			for _, pid := range ds {
				procs = append(procs, recordProc(t, pid))
			}
			break
		}
		time.Sleep(20 * time.Millisecond)
	}

	orphans := watchOrphans(t)
	if err := KillTree(context.Background(), cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	<-waited // the helper is our child: reaped by its Wait, not by KillTree
	// Its children die beside it and are reparented to us as zombies: gone
	// once reaped, never a single look right after the kill.
	waitAllGone(t, procs, orphans)
}

// TestReaper checks that a Reaper reaps an orphan that was reparented to us
// and exited, but never a child of ours that an exec.Cmd waits for.
func TestReaper(t *testing.T) {
	dir := t.TempDir()
	pidfile, gofile, diefile := filepath.Join(dir, "pid"), filepath.Join(dir, "go"), filepath.Join(dir, "die")
	parent := exec.Command("sh", "testdata/orphan.sh", pidfile, gofile, diefile)
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	orphan := recordProc(t, waitPids(t, pidfile, 1)[0])

	// An owned child that has exited: a zombie that only its Wait may reap.
	owned := exec.Command("sh", "-c", "exit 3")
	if err := owned.Start(); err != nil {
		t.Fatal(err)
	}
	ownedProc := recordProc(t, owned.Process.Pid)

	r := NewReaper()
	if _, err := r.Reap(nil); err != nil { // sees the sleep with its parent sh
		t.Fatal(err)
	}
	if err := os.WriteFile(gofile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := parent.Wait(); err != nil {
		t.Fatal(err)
	}
	// The orphan ends only once it is ours.
	for deadline := time.Now().Add(10 * time.Second); ; {
		if info, ok := procState(orphan.pid); ok && info.ppid == os.Getpid() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the orphan was not reparented to us within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := os.WriteFile(diefile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var reaped []int
	deadline := time.Now().Add(10 * time.Second)
	for orphan.state() != "gone" && time.Now().Before(deadline) {
		got, err := r.Reap(nil)
		if err != nil {
			t.Fatal(err)
		}
		reaped = append(reaped, got...)
		time.Sleep(20 * time.Millisecond)
	}
	if st := orphan.state(); st != "gone" {
		t.Errorf("orphan %d is %s, want reaped", orphan.pid, st)
	}
	if !slices.Contains(reaped, orphan.pid) {
		t.Errorf("Reap returned %v, want it to include the orphan %d", reaped, orphan.pid)
	}
	if st := ownedProc.state(); st != "zombie" {
		t.Errorf("owned child is %s, want an unreaped zombie", st)
	}
	err := owned.Wait()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != 3 {
		t.Errorf("owned child's Wait = %v, want exit status 3 (its status was stolen)", err)
	}
}

func TestParseStat(t *testing.T) {
	tests := []struct {
		name string
		line string
		want procInfo
		ok   bool
	}{
		{
			name: "plain",
			line: "42 (sleep) S 7 42 42 0 -1 4194304 90 0 0 0 0 0 0 0 20 0 1 0 123456 8192 100",
			want: procInfo{pid: 42, ppid: 7, pgid: 42, start: 123456}, ok: true,
		},
		{
			name: "comm with spaces and parentheses",
			line: "43 (a) b (c)) Z 1 40 40 0 -1 4194304 90 0 0 0 0 0 0 0 20 0 1 0 99 0 0",
			want: procInfo{pid: 43, ppid: 1, pgid: 40, start: 99, zombie: true}, ok: true,
		},
		{name: "truncated", line: "44 (x) S 1 2 3", ok: false},
		{name: "garbage", line: "no parenthesis", ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pid, _ := strconv.Atoi(strings.Fields(tt.line)[0])
			got, ok := parseStat(pid, []byte(tt.line))
			if ok != tt.ok || (ok && got != tt.want) {
				t.Errorf("parseStat = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

// TestTerminateReapsLeftGroupOrphan: a member first seen in the process
// group as our (reparented) child, that then leaves the group with setsid
// and is killed, is an orphan all the same and must be reaped.
func TestTerminateReapsLeftGroupOrphan(t *testing.T) {
	dir := t.TempDir()
	pidfile, gofile := filepath.Join(dir, "pid"), filepath.Join(dir, "go")
	g, err := Start(exec.Command("sh", "testdata/leave.sh", pidfile, gofile), Options{Tag: "leave"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Terminate(context.Background(), 0) })
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	child := recordProc(t, waitPids(t, pidfile, 1)[0])
	if members, err := g.Members(); err != nil || !slices.Contains(members, child.pid) {
		t.Fatalf("Members = %v, %v; want %d among them", members, err, child.pid)
	}
	if err := os.WriteFile(gofile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		info, ok := procState(child.pid)
		if !ok {
			t.Fatal("the child exited instead of leaving the group")
		}
		if info.pgid != g.Pid() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the child did not leave the process group within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	orphans := watchOrphans(t)
	if err := g.Terminate(context.Background(), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	waitAllGone(t, []proc{child}, orphans)
}

func TestTagMatches(t *testing.T) {
	tests := []struct {
		value, tag string
		family     bool
		want       bool
	}{
		{"run", "run", false, true},
		{"run", "run", true, true},
		{"run/3", "run", false, false},
		{"run/3", "run", true, true},
		{SubTag("run", 12), "run", true, true},
		{"run2/1", "run", true, false},
		{"runner", "run", true, false},
		{"run", "run/1", true, false},
		{"", "run", true, false},
	}
	for _, tt := range tests {
		if got := tagMatches(tt.value, tt.tag, tt.family); got != tt.want {
			t.Errorf("tagMatches(%q, %q, family=%v) = %v, want %v", tt.value, tt.tag, tt.family, got, tt.want)
		}
	}
}

// TestOverlappingGroups runs two groups of one run at once, as a command
// that starts a helper tool next to its main program does: the end of the
// short one must not take the long one with it, and KillTagged of the run
// still finds both.
func TestOverlappingGroups(t *testing.T) {
	start := func(tag string, script string) *Group {
		t.Helper()
		g, err := Start(exec.Command("sh", "-c", script), Options{Tag: tag})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = g.Terminate(context.Background(), 0); _ = g.Wait() })
		return g
	}
	long := start(SubTag("overlap", 1), "sleep 300")
	short := start(SubTag("overlap", 2), "exit 0")
	if err := short.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := short.Terminate(context.Background(), time.Second); err != nil {
		t.Fatal(err)
	}
	if members, err := long.Members(); err != nil || !slices.Contains(members, long.Pid()) {
		t.Fatalf("after the short group ended, the long one has members %v (%v), want its leader %d", members, err, long.Pid())
	}
	// A process of a different run stays.
	other := start(SubTag("overlap-other", 1), "sleep 300")

	if err := KillTagged(context.Background(), os.Getpid(), "overlap"); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- long.Wait() }()
	select {
	case err := <-waited:
		if err == nil {
			t.Error("the long group's leader exited cleanly, want it killed by KillTagged")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("KillTagged(overlap) left the long group's leader running")
	}
	if members, _ := other.Members(); !slices.Contains(members, other.Pid()) {
		t.Errorf("KillTagged(overlap) killed a process of run overlap-other")
	}
}
