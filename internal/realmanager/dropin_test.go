//go:build linux

package realmanager

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/internal/testbin"
)

// Drop-in on a farm of stock workers: Cajon finds the Manager as the stock
// worker does, and takes over a stock worker's identity.

// netnsEnv marks the test binary run again inside its own network namespace.
const netnsEnv = "CAJON_TEST_IN_NETNS"

// inOwnNetns runs the calling test in a network namespace of its own, where
// loopback is up, carries multicast and is the route of 239.0.0.0/8, so an
// SSDP search reaches a Manager on loopback and nothing else. In the
// namespace (the test binary run again) it sets up loopback and returns
// true; outside it runs that child, reports its output and result, and
// returns false.
func inOwnNetns(t *testing.T) bool {
	t.Helper()
	if os.Getenv(netnsEnv) == "1" {
		for _, args := range [][]string{
			{"link", "set", "lo", "up"},
			{"link", "set", "lo", "multicast", "on"},
			{"route", "add", "239.0.0.0/8", "dev", "lo"},
		} {
			if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
				t.Fatalf("ip %s in the test's network namespace: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
		return true
	}
	managerBinary(t)
	for _, tool := range []string{"unshare", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s on PATH: cannot make a network namespace for the SSDP test", tool)
		}
	}
	// Root makes a plain network namespace; others need a user namespace too.
	unshare := []string{"-n"}
	if os.Geteuid() != 0 {
		unshare = []string{"-r", "-n"}
	}
	if out, err := exec.Command("unshare", append(unshare, "true")...).CombinedOutput(); err != nil {
		t.Skipf("cannot make a network namespace here (unshare %s: %v: %s): the SSDP test needs one, so that its multicast stays on loopback",
			strings.Join(unshare, " "), err, strings.TrimSpace(string(out)))
	}
	args := append(unshare, os.Args[0], "-test.run", "^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd := exec.Command("unshare", args...)
	cmd.Env = append(os.Environ(), netnsEnv+"=1", testbin.BinDirEnv+"="+binDir)
	out, err := cmd.CombinedOutput()
	t.Logf("in its own network namespace:\n%s", indent(string(out)))
	switch {
	case err != nil:
		t.Fatalf("the test failed in its network namespace: %v", err)
	case strings.Contains(string(out), "--- SKIP: "+t.Name()):
		t.Skip("skipped in its network namespace (see above)")
	case !strings.Contains(string(out), "--- PASS: "+t.Name()):
		t.Fatalf("the test did not run in its network namespace")
	}
	return false
}

// TestAutodiscovery starts a Manager with autodiscoverable: true and cajon
// without a Manager URL; cajon must find it over SSDP, sign on and run a
// job. The stock worker, `cajon find-manager` and the stock worker's
// -find-manager must find it too. Times from start to signed on are logged,
// for docs/MANAGER.md.
func TestAutodiscovery(t *testing.T) {
	if !inOwnNetns(t) {
		return
	}
	m := startManagerWith(t, managerOptions{autodiscoverable: true})
	t.Logf("Flamenco Manager %s at %s, autodiscoverable", m.Version(), m.URL)

	start := time.Now()
	c := startCajon(t, m, "cajon-found-it", cajonOptions{discover: true})
	m.waitWorker("cajon-found-it", "awake", 2*time.Minute)
	t.Logf("cajon run without a Manager URL: signed on (awake) after %v", time.Since(start).Round(time.Millisecond))
	if took := regexp.MustCompile(`found a Flamenco Manager on the network \(SSDP\): url=(\S+) .* took=(\S+)`).FindStringSubmatch(c.out.String()); took == nil || took[1] != m.URL {
		t.Errorf("cajon's log does not say it found %s over SSDP:\n%s", m.URL, tailString(c.out.String(), 4000))
	} else {
		t.Logf("cajon's search took %s", took[2])
	}
	job := m.submit("echo-sleep-test", "found by SSDP", map[string]any{
		"message": "found over SSDP", "sleep_duration_seconds": 1, "sleep_repeats": 1,
	})
	m.waitJob(job, "completed", 2*time.Minute)

	// The stock worker, for comparison, from start to awake the same way.
	if stock, err := exec.LookPath("flamenco-worker"); err == nil {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "flamenco-worker.yaml"), "worker_name: stock-found-it\ntask_types: [misc]\n")
		start := time.Now()
		startStockWorker(t, stock, dir)
		m.waitWorker("stock-found-it", "awake", 2*time.Minute)
		t.Logf("stock flamenco-worker without a Manager URL: signed on (awake) after %v", time.Since(start).Round(time.Millisecond))
	}

	// The Manager's SSDP server answers one search at a time, each after a
	// random wait of up to the search's MX (the stock worker asks for 3 s),
	// so the searches that are timed above come first.
	start = time.Now()
	out, err := exec.Command(filepath.Join(binDir, "cajon"), "find-manager", "--timeout", "30s").CombinedOutput()
	if err != nil || !strings.Contains(string(out), m.URL+"\n") {
		t.Fatalf("cajon find-manager: %v, want %s among the URLs:\n%s", err, m.URL, out)
	}
	t.Logf("cajon find-manager: %v", time.Since(start).Round(time.Millisecond))
	if stock, err := exec.LookPath("flamenco-worker"); err == nil {
		start := time.Now()
		out, err = exec.Command(stock, "-find-manager").CombinedOutput()
		if err != nil || !strings.Contains(string(out), m.URL) {
			t.Errorf("the stock worker's -find-manager: %v, want %s:\n%s", err, m.URL, out)
		}
		t.Logf("stock flamenco-worker -find-manager: %v", time.Since(start).Round(time.Millisecond))
	}
}

// TestTakeOverStockWorker runs a stock worker that registers, gets a tag
// and stops; then cajon starts in its folder and must be that worker: same
// id and name, the tag kept, a job for the tag run by it, no second worker.
func TestTakeOverStockWorker(t *testing.T) {
	m := startManager(t)
	stock, err := exec.LookPath("flamenco-worker")
	if err != nil {
		t.Skip("no flamenco-worker on PATH: the takeover test needs the stock worker (see docs/MANAGER.md, \"Tested Manager versions\")")
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "flamenco-worker.yaml"), fmt.Sprintf(
		"manager_url: %s\nworker_name: stock-node\ntask_types: [blender, ffmpeg, file-management, misc]\nrestart_exit_code: 47\noom_score_adjust: 500\n", m.URL))
	w := startStockWorker(t, stock, dir)
	before := m.waitWorker("stock-node", "awake", 2*time.Minute)

	var tag struct {
		ID string `json:"id"`
	}
	m.do("POST", "/api/v3/worker-mgt/tags", map[string]any{"name": "takeover-room", "description": "set on the stock worker"}, &tag, 200)
	m.do("POST", "/api/v3/worker-mgt/workers/"+before.ID+"/settags", map[string]any{"tag_ids": []string{tag.ID}}, nil, 204)
	w.stop(t)
	m.waitWorker("stock-node", "offline", time.Minute)

	start := time.Now()
	c := startCajon(t, m, "stock-node", cajonOptions{
		discover: true, noName: true, dir: dir,
		env: []string{"FLAMENCO_HOME=" + dir},
	})
	after := m.waitWorker("stock-node", "awake", 2*time.Minute)
	t.Logf("takeover: cajon signed on as the stock worker %v after its start", time.Since(start).Round(time.Millisecond))
	if after.ID != before.ID {
		t.Fatalf("cajon is worker %s, the stock worker was %s", after.ID, before.ID)
	}
	if !strings.Contains(c.out.String(), "took over the stock Flamenco worker") {
		t.Errorf("cajon's log does not say it took over the stock worker:\n%s", tailString(c.out.String(), 4000))
	}
	var details struct {
		Tags []struct {
			ID string `json:"id"`
		} `json:"tags"`
	}
	m.do("GET", "/api/v3/worker-mgt/workers/"+after.ID, nil, &details, 200)
	if len(details.Tags) != 1 || details.Tags[0].ID != tag.ID {
		t.Errorf("the worker's tags after the takeover: %+v, want [%s]", details.Tags, tag.ID)
	}

	job := m.submitTagged("echo-sleep-test", "for the tag", tag.ID, map[string]any{
		"message": "tagged job", "sleep_duration_seconds": 1, "sleep_repeats": 1,
	})
	m.waitJob(job, "completed", 2*time.Minute)
	for _, tk := range m.tasks(job) {
		var full struct {
			Worker struct {
				ID string `json:"id"`
			} `json:"worker"`
		}
		m.do("GET", "/api/v3/tasks/"+tk.ID, nil, &full, 200)
		if full.Worker.ID != before.ID {
			t.Errorf("task %s ran on worker %q, want the taken-over %s", tk.Name, full.Worker.ID, before.ID)
		}
	}
	var list struct {
		Workers []worker `json:"workers"`
	}
	m.do("GET", "/api/v3/worker-mgt/workers", nil, &list, 200)
	if len(list.Workers) != 1 {
		t.Errorf("the Manager lists %d workers, want the one taken over: %+v", len(list.Workers), list.Workers)
	}
	data, err := os.ReadFile(filepath.Join(dir, "cajon.toml"))
	if err != nil || !strings.Contains(string(data), "restart_exit_code = 47") || !strings.Contains(string(data), "oom_score_adjust = 500") {
		t.Errorf("cajon.toml written by the takeover: %v\n%s", err, data)
	}
}

// stockProcess is a running stock flamenco-worker.
type stockProcess struct {
	cmd  *exec.Cmd
	done chan struct{}
	log  string
}

// startStockWorker runs the stock worker in dir, keeping its credentials
// there too (FLAMENCO_HOME), until the test ends or stop.
func startStockWorker(t *testing.T, bin, dir string) *stockProcess {
	t.Helper()
	p := &stockProcess{done: make(chan struct{}), log: filepath.Join(dir, "worker.log")}
	p.cmd = exec.Command(bin)
	p.cmd.Dir = dir
	p.cmd.Env = append(os.Environ(), "HOME="+dir, "FLAMENCO_HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	log, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout, p.cmd.Stderr = log, log
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); log.Close(); close(p.done) }()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("stock worker log (%s):\n%s", p.log, tailFile(p.log, 6000))
		}
	})
	return p
}

// stop ends the stock worker as its supervisor would (SIGTERM: it signs off).
func (p *stockProcess) stop(t *testing.T) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		t.Errorf("the stock worker did not stop within 30 s of SIGTERM")
	}
}

// submitTagged submits a job for the workers of one tag.
func (m *manager) submitTagged(jobType, name, tagID string, settings map[string]any) string {
	m.tb.Helper()
	var job struct {
		ID string `json:"id"`
	}
	m.do("POST", "/api/v3/jobs", map[string]any{
		"name": name, "type": jobType, "priority": 50, "worker_tag": tagID,
		"submitter_platform": "linux", "settings": settings, "metadata": map[string]any{},
	}, &job, 200)
	return job.ID
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
