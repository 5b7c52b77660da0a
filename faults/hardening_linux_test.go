package faults

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/rundir"
	"github.com/cajonfarm/cajon/internal/testwait"
	"github.com/cajonfarm/cajon/sdk/proctree"
)

// hardeningEnv is the environment of a real cajon that works without a
// Manager, with its own temporary folder and state dir.
func hardeningEnv(tmp, state string) []string {
	return []string{"TMPDIR=" + tmp, "CAJON_STATE_DIR=" + state, "CAJON_KILL_GRACE=300ms", "CAJON_LOG_LEVEL=debug"}
}

// entries lists what dir holds.
func entries(t testing.TB, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// shortTemp is a folder with a short path: the state dir holds the plugins'
// sockets, and t.TempDir's names are long.
func shortTemp(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "f")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func testNoTmpLeftovers(t *testing.T) {
	base := shortTemp(t)
	tmp, state := filepath.Join(base, "tmp"), filepath.Join(base, "s")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	env := hardeningEnv(tmp, state)
	job := filepath.Join(base, "job.toml")
	if err := os.WriteFile(job, []byte("name = \"tmp-check\"\n[[tasks]]\nname = \"echo\"\ntype = \"misc\"\n  [[tasks.commands]]\n  name = \"echo\"\n  [tasks.commands.parameters]\n  message = \"hello\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	clean := func(after string) {
		t.Helper()
		if left := entries(t, tmp); len(left) > 0 {
			t.Errorf("after %s, TMPDIR holds %q", after, left)
		}
		if left := entries(t, filepath.Join(state, rundir.Sub)); len(left) > 0 {
			t.Errorf("after %s, the state dir's run folder holds %q", after, left)
		}
	}
	steps := []struct {
		what string
		args []string
		exit int
	}{
		{"cajon plugins", []string{"plugins"}, 0},
		{"cajon local submit", []string{"local", "submit", job}, 0},
		{"cajon local run", []string{"local", "run", "--until-idle"}, 0},
		{"a plugin that dies in the middle of a command (os.Exit: its socket is not removed)", []string{"plugins", "run", "test-crash", "--params", `{"after_seconds": 0}`}, 1},
	}
	for _, st := range steps {
		p := startCajon(t, env, 0, st.args...)
		if code := p.wait(t, 2*time.Minute); code != st.exit {
			t.Fatalf("%s: exit %d, want %d:\n%s", st.what, code, st.exit, tail(p.out.String(), 4000))
		}
		clean(st.what)
	}

	// A host killed with SIGKILL cannot tidy up: the next cajon sweeps.
	hung := startCajon(t, env, 0, "plugins", "run", "test-hang")
	testwait.Within(t, "the command to run", time.Minute, func() bool { return strings.Contains(hung.out.String(), "hanging") })
	if left := entries(t, filepath.Join(state, rundir.Sub)); len(left) != 1 {
		t.Fatalf("while a command runs, the run folder holds %q, want one folder", left)
	}
	hung.signal(t, syscall.SIGKILL)
	hung.wait(t, 10*time.Second)
	checkNoDescendants(t, 15*time.Second)
	p := startCajon(t, env, 0, "plugins")
	if code := p.wait(t, 2*time.Minute); code != 0 {
		t.Fatalf("cajon plugins after the SIGKILL: exit %d:\n%s", code, tail(p.out.String(), 4000))
	}
	clean("SIGKILL of cajon, then cajon plugins")
}

func testPluginsCheckHang(t *testing.T) {
	base := shortTemp(t)
	script, err := filepath.Abs("../host/conformance/testdata/cajon-plugin-hang")
	if err != nil {
		t.Fatal(err)
	}
	p := startCajon(t, hardeningEnv(base, filepath.Join(base, "s")), 0, "plugins", "check", script)
	testwait.Within(t, "the check to start the hung plugin", 30*time.Second, func() bool {
		pids, _ := proctree.Descendants(os.Getpid())
		for _, pid := range pids {
			if comm, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm"); strings.TrimSpace(string(comm)) == "sleep" {
				return true
			}
		}
		return false
	})
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, 30*time.Second); code != 1 {
		t.Errorf("exit %d after SIGTERM, want 1 (a failed check)", code)
	}
	out := p.out.String()
	for _, want := range []string{"refuses a start by hand", "FAIL", "the check was stopped (received SIGTERM) during this step: the plugin was killed with its process tree"} {
		if !strings.Contains(out, want) {
			t.Errorf("the check's output does not say %q:\n%s", want, tail(out, 4000))
		}
	}
	checkNoDescendants(t, 15*time.Second)
}

// freePort is a loopback port that was free a moment ago.
func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// jobState is a local job's state as `cajon local show --json` says.
func jobState(t testing.TB, env []string, id string) string {
	t.Helper()
	p := startCajon(t, env, 0, "local", "show", id, "--json")
	if code := p.wait(t, time.Minute); code != 0 {
		t.Fatalf("cajon local show: exit %d:\n%s", code, p.out.String())
	}
	var j struct {
		State string `json:"state"`
	}
	// Its stdout is the JSON (stderr, in the same output, has log lines).
	if err := json.NewDecoder(strings.NewReader(p.out.String())).Decode(&j); err != nil {
		t.Fatalf("cajon local show --json: %v\n%s", err, p.out.String())
	}
	return j.State
}

func testMetricsFlood(t *testing.T) {
	const nofile, idle = 256, 400
	base := shortTemp(t)
	tmp, state := filepath.Join(base, "tmp"), filepath.Join(base, "s")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + freePort(t)
	env := hardeningEnv(tmp, state)
	runner := startCajon(t, append(env, "CAJON_METRICS_LISTEN="+addr, nofileEnv+"="+strconv.Itoa(nofile)), 0, "local", "run")
	healthy := func() bool {
		c := &http.Client{Timeout: 2 * time.Second}
		resp, err := c.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	testwait.Within(t, "the runner's /healthz", time.Minute, healthy)

	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range idle {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("connection %d: %v", len(conns), err)
		}
		conns = append(conns, c)
	}

	var job strings.Builder
	job.WriteString("name = \"flooded\"\n")
	for i := range 6 {
		fmt.Fprintf(&job, "[[tasks]]\nname = \"echo-%d\"\ntype = \"misc\"\n  [[tasks.commands]]\n  name = \"echo\"\n  [tasks.commands.parameters]\n  message = \"task %d under the flood\"\n", i, i)
	}
	jobFile := filepath.Join(base, "job.toml")
	if err := os.WriteFile(jobFile, []byte(job.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	sub := startCajon(t, env, 0, "local", "submit", jobFile)
	if code := sub.wait(t, time.Minute); code != 0 {
		t.Fatalf("cajon local submit: exit %d:\n%s", code, sub.out.String())
	}
	id, _, _ := strings.Cut(sub.out.String(), "\n") // stdout's id, then stderr's note
	id = strings.TrimSpace(id)
	testwait.Within(t, "the job to end", 2*time.Minute, func() bool {
		s := jobState(t, env, id)
		return s == "completed" || s == "failed"
	})
	if s := jobState(t, env, id); s != "completed" {
		t.Errorf("job state %s, want completed", s)
	}
	// With the idle connections still open.
	testwait.Within(t, "/healthz to answer beside the idle connections", 2*time.Minute, healthy)

	runner.signal(t, syscall.SIGTERM)
	if code := runner.wait(t, time.Minute); code != 0 {
		t.Errorf("cajon local run: exit %d after SIGTERM", code)
	}
	out := runner.out.String()
	for _, bad := range []string{"too many open files", "not kept on disk"} {
		if strings.Contains(out, bad) {
			t.Errorf("the runner says %q:\n%s", bad, tail(out, 6000))
		}
	}
	for i := range 6 {
		logs := startCajon(t, env, 0, "local", "logs", id, fmt.Sprintf("echo-%d", i))
		if code := logs.wait(t, time.Minute); code != 0 || !strings.Contains(logs.out.String(), fmt.Sprintf("task %d under the flood", i)) {
			t.Errorf("task echo-%d's full log (exit %d):\n%s", i, code, logs.out.String())
		}
	}
}
