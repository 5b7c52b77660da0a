package identities_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/cajonfarm/cajon/internal/managertest"
	"github.com/cajonfarm/cajon/internal/testwait"
)

// processRSS is the VmRSS of pid in MB, 0 when unknown.
func processRSS(pid int) float64 {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// idleRSS starts `cajon run --identities n` against mgr, waits until every
// identity is awake and idle, and returns the host's resident memory in MB
// (no plugin runs: their descriptions are cached in the state directory).
func idleRSS(b *testing.B, mgr *managertest.Manager, state string, n int) float64 {
	b.Helper()
	prefix := "rss" + strconv.Itoa(n)
	cmd := exec.Command(filepath.Join(binDir, "cajon"), "run", "--identities", strconv.Itoa(n))
	cmd.Env = append(os.Environ(), "CAJON_STATE_DIR="+state, "CAJON_MANAGER_URL="+mgr.URL(),
		"CAJON_MANAGER_WORKER_NAME="+prefix, "CAJON_LOG_LEVEL=warn", "HOME="+state, "XDG_CONFIG_HOME="+state)
	cmd.Dir = state
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	ids := map[string]bool{}
	testwait.For(b, fmt.Sprintf("%d identities to be awake", n), func() bool {
		for _, w := range mgr.Workers() {
			if strings.HasPrefix(w.Name, prefix+"-") && w.Status == managertest.WorkerAwake {
				ids[w.ID] = true
			}
		}
		return len(ids) == n
	})
	// Idle at last: every identity has fetched and found nothing a few times.
	fetches := func() int {
		k := 0
		for _, r := range mgr.Requests() {
			if r.Op == managertest.OpScheduleTask && ids[r.Worker] {
				k++
			}
		}
		return k
	}
	from := fetches()
	testwait.For(b, "a few idle fetches of every identity", func() bool { return fetches() >= from+3*n })
	return processRSS(cmd.Process.Pid)
}

// BenchmarkIdleRSS compares the resident memory of an idle host working as
// four identities with one working as one. Goal: at most 1.3 times.
func BenchmarkIdleRSS(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("reads /proc")
	}
	mgr := managertest.New(b, managertest.Config{})
	state := b.TempDir()
	// A first start describes the plugins into the cache; later ones start none.
	idleRSS(b, mgr, state, 1)
	var one, four float64
	for b.Loop() {
		one = max(one, idleRSS(b, mgr, state, 1))
		four = max(four, idleRSS(b, mgr, state, 4))
	}
	b.ReportMetric(one, "MB-1-identity")
	b.ReportMetric(four, "MB-4-identities")
	b.ReportMetric(four/one, "ratio")
}
