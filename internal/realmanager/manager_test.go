//go:build unix

package realmanager

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/cajonfarm/cajon/internal/testwait"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// howToGetOne is the skip message when no Manager binary is found.
const howToGetOne = "no Flamenco Manager: put flamenco-manager on PATH or name it in FLAMENCO_MANAGER " +
	"(build it with shared/tools/build-flamenco.sh from a git snapshot of github.com/mateusabelli/flamenco; " +
	"see docs/MANAGER.md, \"Tested Manager versions\")"

// managerBinary finds the real Manager, or skips the test.
func managerBinary(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("FLAMENCO_MANAGER"); p != "" {
		if _, err := os.Stat(p); err != nil {
			tb.Fatalf("FLAMENCO_MANAGER=%s: %v", p, err)
		}
		return p
	}
	p, err := exec.LookPath("flamenco-manager")
	if err != nil {
		tb.Skip(howToGetOne)
	}
	return p
}

// manager is one running real Flamenco Manager.
type manager struct {
	tb      testing.TB
	URL     string // http://127.0.0.1:PORT
	Dir     string // its working directory (config, database, log)
	Shared  string // its shared storage folder
	cmd     *exec.Cmd
	logPath string
	client  *http.Client
}

// startManager runs a Manager in a folder of the test's own, with the job
// compiler scripts of testdata/scripts beside its binary (the Manager loads
// custom job types only from there), and waits until its API answers.
func startManager(tb testing.TB) *manager {
	tb.Helper()
	return startManagerWith(tb, managerOptions{})
}

// managerOptions are what a test may change of the Manager it starts.
type managerOptions struct {
	// autodiscoverable makes the Manager answer SSDP searches.
	autodiscoverable bool
}

// startManagerWith is startManager with options.
func startManagerWith(tb testing.TB, opt managerOptions) *manager {
	tb.Helper()
	bin := managerBinary(tb)
	dir := tb.TempDir()
	shared := filepath.Join(dir, "shared")
	if err := os.MkdirAll(shared, 0o755); err != nil {
		tb.Fatal(err)
	}
	// A copy of the binary, so that scripts/ can sit beside it.
	local := filepath.Join(dir, "flamenco-manager")
	copyFile(tb, bin, local, 0o755)
	if err := os.CopyFS(filepath.Join(dir, "scripts"), os.DirFS("testdata/scripts")); err != nil {
		tb.Fatal(err)
	}
	port := freePort(tb)
	cfg := fmt.Sprintf(`_meta:
  version: 3
manager_name: cajon-test
database: flamenco-manager.sqlite
listen: 127.0.0.1:%d
autodiscoverable: %t
local_manager_storage_path: %s
shared_storage_path: %s
shaman:
  enabled: false
task_timeout: 10m0s
worker_timeout: 1m0s
blocklist_threshold: 3
task_fail_after_softfail_count: 3
variables:
  blender:
    values:
    - platform: linux
      value: blender
  blenderArgs:
    values:
    - platform: all
      value: -b -y
`, port, opt.autodiscoverable, filepath.Join(dir, "storage"), shared)
	if err := os.WriteFile(filepath.Join(dir, "flamenco-manager.yaml"), []byte(cfg), 0o644); err != nil {
		tb.Fatal(err)
	}
	m := &manager{
		tb: tb, URL: fmt.Sprintf("http://127.0.0.1:%d", port), Dir: dir, Shared: shared,
		logPath: filepath.Join(dir, "manager.log"),
		client:  &http.Client{Timeout: 30 * time.Second},
	}
	logFile, err := os.Create(m.logPath)
	if err != nil {
		tb.Fatal(err)
	}
	m.cmd = exec.Command(local)
	m.cmd.Dir = dir
	m.cmd.Stdout, m.cmd.Stderr = logFile, logFile
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := m.cmd.Start(); err != nil {
		tb.Fatalf("starting %s: %v", bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = m.cmd.Wait(); logFile.Close(); close(exited) }()
	tb.Cleanup(func() {
		_ = m.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if tb.Failed() {
			tb.Logf("manager log (%s):\n%s", m.logPath, tailFile(m.logPath, 8000))
		}
	})
	testwait.Within(tb, "the Manager to answer /api/v3/version", 60*time.Second, func() bool {
		select {
		case <-exited:
			tb.Fatalf("the Manager exited at start:\n%s", tailFile(m.logPath, 4000))
		default:
		}
		var v struct{ Version string }
		return m.try("GET", "/api/v3/version", nil, &v) == 200
	})
	return m
}

// Version is the Manager's version, as it reports it.
func (m *manager) Version() string {
	var v struct {
		Version string `json:"version"`
	}
	m.do("GET", "/api/v3/version", nil, &v, 200)
	return v.Version
}

// try makes one request and decodes a JSON answer into out (when not nil);
// it returns the status, or 0 when the request failed.
func (m *manager) try(method, path string, body, out any) int {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			m.tb.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, m.URL+path, rd)
	if err != nil {
		m.tb.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && len(data) > 0 && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			m.tb.Fatalf("%s %s: answer %d is not the JSON expected: %v\n%s", method, path, resp.StatusCode, err, data)
		}
	}
	return resp.StatusCode
}

// do is try for requests that must succeed with one of the given statuses.
func (m *manager) do(method, path string, body, out any, want ...int) int {
	m.tb.Helper()
	got := m.try(method, path, body, out)
	for _, w := range want {
		if got == w {
			return got
		}
	}
	m.tb.Fatalf("%s %s: status %d, want %v", method, path, got, want)
	return got
}

// submit submits a job and returns its id.
func (m *manager) submit(jobType, name string, settings map[string]any) string {
	m.tb.Helper()
	var job struct {
		ID string `json:"id"`
	}
	m.do("POST", "/api/v3/jobs", map[string]any{
		"name": name, "type": jobType, "priority": 50,
		"submitter_platform": "linux", "settings": settings, "metadata": map[string]any{},
	}, &job, 200)
	if job.ID == "" {
		m.tb.Fatalf("submitting %s: no job id in the answer", jobType)
	}
	return job.ID
}

// jobStatus is a job's status now.
func (m *manager) jobStatus(id string) string {
	var job struct {
		Status string `json:"status"`
	}
	m.do("GET", "/api/v3/jobs/"+id, nil, &job, 200)
	return job.Status
}

// waitJob waits until the job has the status want; a job that ends in
// another final status fails the test at once.
func (m *manager) waitJob(id, want string, limit time.Duration) {
	m.tb.Helper()
	final := map[string]bool{"completed": true, "failed": true, "canceled": true}
	testwait.Within(m.tb, "job "+id+" to be "+want, limit, func() bool {
		st := m.jobStatus(id)
		if st != want && final[st] {
			m.tb.Fatalf("job %s ended %s, want %s; tasks: %s", id, st, want, m.describeTasks(id))
		}
		return st == want
	})
}

// task is one task of a job, as the Manager lists it.
type task struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Status string `json:"status"`
}

func (m *manager) tasks(jobID string) []task {
	var list struct {
		Tasks []task `json:"tasks"`
	}
	m.do("GET", "/api/v3/jobs/"+jobID+"/tasks", nil, &list, 200)
	return list.Tasks
}

// describeTasks lists a job's tasks with their status and log tail, for
// failure messages.
func (m *manager) describeTasks(jobID string) string {
	var b strings.Builder
	for _, t := range m.tasks(jobID) {
		fmt.Fprintf(&b, "\n  %s %s: %s\n%s", t.Name, t.ID, t.Status, indent(m.logTail(t.ID)))
	}
	return b.String()
}

// logTail is the end of a task's log as the Manager keeps it.
func (m *manager) logTail(taskID string) string {
	resp, err := m.client.Get(m.URL + "/api/v3/tasks/" + taskID + "/logtail")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return string(data)
}

// taskLog is the whole log of a task as the Manager received it.
func (m *manager) taskLog(taskID string) []byte {
	m.tb.Helper()
	var info struct {
		URL  string `json:"url"`
		Size int64  `json:"size"`
	}
	if m.do("GET", "/api/v3/tasks/"+taskID+"/log", nil, &info, 200, 204) == 204 {
		return nil
	}
	resp, err := m.client.Get(m.URL + info.URL)
	if err != nil {
		m.tb.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		m.tb.Fatal(err)
	}
	return data
}

// worker is a worker as the Manager lists it.
type worker struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Status string `json:"status"`
}

// workerNamed returns the worker of that name, or false.
func (m *manager) workerNamed(name string) (worker, bool) {
	var list struct {
		Workers []worker `json:"workers"`
	}
	m.do("GET", "/api/v3/worker-mgt/workers", nil, &list, 200)
	for _, w := range list.Workers {
		if w.Name == name {
			return w, true
		}
	}
	return worker{}, false
}

// waitWorker waits until the worker of that name has the status want.
func (m *manager) waitWorker(name, want string, limit time.Duration) worker {
	m.tb.Helper()
	var w worker
	testwait.Within(m.tb, "worker "+name+" to be "+want, limit, func() bool {
		var ok bool
		w, ok = m.workerNamed(name)
		return ok && w.Status == want
	})
	return w
}

// setWorkerStatus asks a worker for a status, as the web interface does.
func (m *manager) setWorkerStatus(id, status string, lazy bool) {
	m.tb.Helper()
	m.do("POST", "/api/v3/worker-mgt/workers/"+id+"/setstatus",
		map[string]any{"status": status, "is_lazy": lazy}, nil, 204)
}

// setJobStatus changes a job's status, as the web interface does.
func (m *manager) setJobStatus(id, status, reason string) {
	m.tb.Helper()
	m.do("POST", "/api/v3/jobs/"+id+"/setstatus", map[string]any{"status": status, "reason": reason}, nil, 204)
}

func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func copyFile(tb testing.TB, from, to string, mode os.FileMode) {
	tb.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(to, data, mode); err != nil {
		tb.Fatal(err)
	}
}

func tailFile(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(data) > n {
		data = data[len(data)-n:]
	}
	return string(data)
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}
