package faults

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/internal/managertest"
	"github.com/cajonfarm/cajon/internal/testwait"
	"github.com/cajonfarm/cajon/internal/workertest"
)

func testHostSIGKILL(t *testing.T) {
	mgr := managertest.New(t, managertest.Config{})
	tmp := t.TempDir()
	runs, pidDir := filepath.Join(tmp, "runs"), filepath.Join(tmp, "tree")
	nasty, _ := filepath.Abs("testdata/nasty.sh")
	const lines = 60
	// Run 1 starts an escaping tree beside its printing; run 2 (after the
	// restart) only prints. Each line says which run printed it.
	script := fmt.Sprintf(`n=$(cat %[1]q 2>/dev/null || echo 0); n=$((n+1)); echo $n > %[1]q
if [ $n = 1 ]; then mkdir -p %[2]q; sh %[3]q %[2]q & fi
i=0; while [ $i -lt %[4]d ]; do echo "run $n line $i"; i=$((i+1)); sleep 0.1; done`, runs, pidDir, nasty, lines)
	id := oneTask(mgr, workertest.ShellTask("printer", script))
	state := t.TempDir()
	env := cajonEnv(mgr, state)

	first := startCajon(t, env, 0, "run")
	tree := waitForTree(t, pidDir)
	testwait.Within(t, "the first lines of the task", 30*time.Second, func() bool {
		return strings.Contains(mgr.MustTask(t, id).Log, "run 1 line 3\n")
	})
	// Updates queue up while the Manager is away; then the host dies. With
	// no request in flight, what the Manager has is final; a row it has may
	// still be in the queue for a moment (deleted after the answer), so the
	// wait is for a line beyond the last one delivered.
	mgr.MustTakeDown(t)
	before := workertest.Numbered(mgr.MustTask(t, id).Log, "run 1 line ")
	var undelivered []int // queued lines the Manager has not got, seen before the kill
	testwait.Within(t, "lines to queue up while the Manager is away", 30*time.Second, func() bool {
		_, queued := queuedRows(t, state)
		undelivered = undelivered[:0]
		for _, n := range workertest.Numbered(strings.Join(queued, "\n"), "run 1 line ") {
			if len(before) == 0 || n > before[len(before)-1] {
				undelivered = append(undelivered, n)
			}
		}
		return len(undelivered) > 0
	})
	first.signal(t, syscall.SIGKILL)
	first.wait(t, 10*time.Second)
	checkGone(t, "the task's process tree after SIGKILL of the host", tree, 15*time.Second)
	// The plugin and everything else the first cajon started.
	checkNoDescendants(t, 15*time.Second)

	_, queued := queuedRows(t, state)
	want := workertest.Numbered(strings.Join(queued, "\n"), "run 1 line ")
	t.Logf("run 1: %d lines delivered before the outage, %d queued when the host was killed", len(before), len(want))
	// An update on disk before the kill is on disk after it.
	for _, n := range undelivered {
		if !slices.Contains(want, n) {
			t.Fatalf("line %d was in the queue before the SIGKILL and is gone after it (queued now: %v)", n, want)
		}
	}
	if err := mgr.ClearFaults(); err != nil {
		t.Fatal(err)
	}

	second := startCajon(t, env, 0, "run")
	ts := waitTaskStatus(t, mgr, id, managertest.StatusCompleted, 60*time.Second)
	second.signal(t, syscall.SIGTERM)
	if code := second.wait(t, 30*time.Second); code != 0 {
		t.Errorf("cajon exited with %d after SIGTERM, want 0", code)
	}

	if got := workertest.Numbered(ts.Log, "run 1 line "); !slices.Equal(got, append(before, want...)) {
		t.Errorf("run 1 lines on the Manager %v\nwant those delivered before the kill %v\nthen the queued ones %v", got, before, want)
	}
	workertest.CheckExactlyOnce(t, ts, "run 2 line ", lines)
	if lastRun1, firstRun2 := strings.LastIndex(ts.Log, "run 1 line "), strings.Index(ts.Log, "run 2 line "); lastRun1 > firstRun2 {
		t.Errorf("run 2 started before the queued updates of run 1 were delivered")
	}
	checkStatuses(t, ts, true, managertest.StatusActive, managertest.StatusCompleted)
	mgr.CheckProtocol(t)
}
