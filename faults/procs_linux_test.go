package faults

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/internal/proctest"
	"github.com/cajonfarm/cajon/internal/testwait"
	"github.com/cajonfarm/cajon/sdk/proctree"
)

// describe names a process for a failure message: pid and command line.
func describe(pid int) string {
	raw, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return fmt.Sprintf("%d (%s)", pid, strings.TrimSpace(strings.ReplaceAll(string(raw), "\x00", " ")))
}

// treeMembers are the pid files testdata/nasty.sh writes.
var treeMembers = []string{"root", "ignore", "setsid", "daemon", "setsid-daemon"}

// nastyScript is the test-tree script that starts testdata/nasty.sh,
// writing its pid files into dir.
func nastyScript(t testing.TB, dir string) string {
	t.Helper()
	script, err := filepath.Abs("testdata/nasty.sh")
	if err != nil {
		t.Fatal(err)
	}
	return "exec sh " + script + " " + dir
}

// waitForTree waits until every member of the tree wrote its pid.
func waitForTree(t testing.TB, dir string) map[string]int {
	t.Helper()
	var pids map[string]int
	testwait.Within(t, "the process tree to come up", 20*time.Second, func() bool {
		pids = proctest.ReadPidFiles(dir, treeMembers...)
		return len(pids) == len(treeMembers)
	})
	return pids
}

// survivors returns the processes of pids that are still alive after
// waiting up to limit for them to go.
func survivors(pids map[string]int, limit time.Duration) []string {
	var left []string
	testwait.Poll(limit, func() bool {
		left = left[:0]
		for name, pid := range pids {
			if proctest.Alive(pid) {
				left = append(left, name+"="+describe(pid))
			}
		}
		return len(left) == 0
	})
	sort.Strings(left)
	return left
}

// checkGone fails when a process of pids is still alive after limit, and
// kills the survivors so they do not spoil later scenarios.
func checkGone(t testing.TB, what string, pids map[string]int, limit time.Duration) {
	t.Helper()
	if left := survivors(pids, limit); len(left) > 0 {
		t.Errorf("%s: processes survived: %v", what, left)
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// checkNoDescendants fails when the test process still has live
// descendants after limit (a plugin, a command or a cajon left running),
// and kills them. The test process is a subreaper, so orphans count too.
func checkNoDescendants(t testing.TB, limit time.Duration) {
	t.Helper()
	var left []int
	var err error
	testwait.Poll(limit, func() bool {
		left, err = proctree.Descendants(os.Getpid())
		return err != nil || len(left) == 0
	})
	if err != nil {
		t.Errorf("listing processes: %v", err)
		return
	}
	if len(left) == 0 {
		return
	}
	var names []string
	for _, pid := range left {
		names = append(names, describe(pid))
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	t.Errorf("processes left after the scenario: %s", strings.Join(names, ", "))
}

// openFDs counts the test process's open file descriptors.
func openFDs(t testing.TB) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// memStatus returns a field of /proc/self/status in bytes (VmRSS, VmHWM).
func memStatus(t testing.TB, field string) int64 {
	t.Helper()
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("/proc/self/status %s: %v", field, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("/proc/self/status has no %s", field)
	return 0
}

// resetPeakRSS makes VmHWM start again from the current RSS, so a
// scenario measures its own peak and not an earlier one's.
func resetPeakRSS(t testing.TB) {
	t.Helper()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Fatalf("reset the peak RSS (/proc/self/clear_refs): %v", err)
	}
}
