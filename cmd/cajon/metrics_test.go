//go:build unix

package main

import (
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/cajonfarm/cajon/internal/managertest"
	"github.com/cajonfarm/cajon/internal/proctest"
	"github.com/cajonfarm/cajon/internal/testwait"
)

// servedAddr waits for the "serving metrics" log line and returns its address.
func servedAddr(t *testing.T, out *proctest.Output) string {
	t.Helper()
	re := regexp.MustCompile(`serving metrics and health: addr=(127\.0\.0\.1:\d+)`)
	var addr string
	testwait.For(t, "cajon to serve its metrics", func() bool {
		m := re.FindStringSubmatch(out.String())
		if m != nil {
			addr = m[1]
		}
		return m != nil
	})
	return addr
}

// fetch GETs http://addr/path; status 0 when it could not connect.
func fetch(addr, path string) (int, string) {
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestMetricsOfRunAndLocalRun(t *testing.T) {
	echo := `name = "metrics"
[[tasks]]
name = "hello"
type = "misc"
  [[tasks.commands]]
  name = "echo"
  parameters = { message = "hello" }
`
	tests := []struct {
		name string
		// start starts cajon with metrics on 127.0.0.1:0 and one echo task to run.
		start  func(t *testing.T, c *cajon, environ []string) (*proctest.Output, func() error)
		worker string
		checks []string
	}{
		{"cajon run", func(t *testing.T, c *cajon, environ []string) (*proctest.Output, func() error) {
			mgr := managertest.New(t, managertest.Config{})
			mgr.AddJob(managertest.Job{Tasks: []managertest.Task{{Name: "hello", Type: "misc", Commands: []managertest.Command{
				{Name: "echo", Parameters: map[string]any{"message": "hello"}},
			}}}})
			environ = append(environ, "CAJON_MANAGER_URL="+mgr.URL(), "CAJON_MANAGER_WORKER_NAME=metrics-test",
				"CAJON_MANAGER_FETCH_BACKOFF_MAX=200ms")
			cmd, out := startCajon(t, filepath.Join(binDir, "cajon"), environ, "run")
			return out, func() error { _ = cmd.Process.Signal(syscall.SIGTERM); return cmd.Wait() }
		}, "metrics-test", []string{"ok: update queue of worker metrics-test", "ok: Manager answers worker metrics-test"}},
		{"cajon local run", func(t *testing.T, c *cajon, environ []string) (*proctest.Output, func() error) {
			c.submit(c.writeJob("echo.toml", echo))
			cmd, out := startCajon(t, filepath.Join(binDir, "cajon"), environ, "local", "run", "--plain")
			return out, func() error { _ = cmd.Process.Signal(syscall.SIGTERM); return cmd.Wait() }
		}, "local", []string{"ok: local job store"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCajon(t)
			environ := []string{"CAJON_STATE_DIR=" + c.state, "CAJON_METRICS_LISTEN=127.0.0.1:0",
				"HOME=" + t.TempDir()}
			out, stop := tt.start(t, c, environ)
			addr := servedAddr(t, out)
			completed := `cajon_tasks_total{outcome="completed",task_type="misc",worker="` + tt.worker + `"} 1`
			var metrics string
			testwait.For(t, "the echo task to be counted", func() bool {
				_, metrics = fetch(addr, "/metrics")
				return strings.Contains(metrics, completed)
			})
			for _, want := range []string{`cajon_command_duration_seconds_count{command="echo",outcome="completed"} 1`,
				`cajon_plugin_starts_total{plugin="exec"}`, `cajon_log_produced_bytes_total{worker="` + tt.worker + `"}`} {
				if !strings.Contains(metrics, want) {
					t.Errorf("/metrics lacks %s", want)
				}
			}
			status, health := fetch(addr, "/healthz")
			if status != http.StatusOK {
				t.Errorf("/healthz: %d\n%s", status, health)
			}
			for _, want := range tt.checks {
				if !strings.Contains(health, want) {
					t.Errorf("/healthz lacks %q:\n%s", want, health)
				}
			}
			if err := stop(); err != nil {
				t.Errorf("cajon after SIGTERM: %v\n%s", err, out.String())
			}
			if status, _ := fetch(addr, "/metrics"); status != 0 {
				t.Errorf("/metrics still answers %d after cajon exited", status)
			}
		})
	}
}

func TestMetricsOfIdentities(t *testing.T) {
	mgr := managertest.New(t, managertest.Config{})
	c := newCajon(t)
	environ := []string{"CAJON_STATE_DIR=" + c.state, "CAJON_METRICS_LISTEN=127.0.0.1:0", "HOME=" + t.TempDir(),
		"CAJON_MANAGER_URL=" + mgr.URL(), "CAJON_MANAGER_WORKER_NAME=gpu-node", "CAJON_MANAGER_FETCH_BACKOFF_MAX=200ms"}
	cmd, out := startCajon(t, filepath.Join(binDir, "cajon"), environ, "run", "--identities", "2")
	addr := servedAddr(t, out)
	want := []string{"ok: update queue of worker gpu-node-1", "ok: update queue of worker gpu-node-2",
		"ok: Manager answers worker gpu-node-1", "ok: Manager answers worker gpu-node-2"}
	var health string
	testwait.For(t, "/healthz to pass for both identities", func() bool {
		var status int
		status, health = fetch(addr, "/healthz")
		return status == http.StatusOK
	})
	for _, w := range want {
		if !strings.Contains(health, w) {
			t.Errorf("/healthz lacks %q:\n%s", w, health)
		}
	}
	testwait.For(t, "/metrics to show the sign-on of each identity", func() bool {
		_, metrics := fetch(addr, "/metrics")
		for _, name := range []string{"gpu-node-1", "gpu-node-2"} {
			if !strings.Contains(metrics, `cajon_manager_requests_total{endpoint="sign-on",worker="`+name+`"}`) {
				return false
			}
		}
		return true
	})
	// Set before /metrics is served: no device, no GPU of their own here.
	_, metrics := fetch(addr, "/metrics")
	for _, name := range []string{"gpu-node-1", "gpu-node-2"} {
		if want := `cajon_worker_device_info{cycles_device="",gpu="",worker="` + name + `"} 1`; !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("cajon after SIGTERM: %v\n%s", err, out.String())
	}
	for _, w := range mgr.Workers() {
		if w.Status != managertest.WorkerOffline {
			t.Errorf("identity %s is %s after SIGTERM, want offline (signed off)", w.Name, w.Status)
		}
	}
}
