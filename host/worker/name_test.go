package worker_test

import (
	"os"
	"testing"

	"github.com/cajonfarm/cajon/internal/managertest"
)

// An unset manager.worker_name is the host name, looked up when the worker
// starts (the config leaves it empty, so a copied config names no machine).
func TestUnsetWorkerNameIsTheHostNameAtStart(t *testing.T) {
	host, err := os.Hostname()
	if err != nil || host == "" {
		t.Skipf("no host name here (%v)", err)
	}
	mgr := managertest.New(t, managertest.Config{})
	cfg := testConfig(t, mgr)
	cfg.Manager.WorkerName = ""
	startWorker(t, cfg, openPlugins(t))
	waitFor(t, "the worker to be awake", awake(mgr))
	if got := onlyWorker(t, mgr).Name; got != host {
		t.Errorf("registered as %q, want the host name %q", got, host)
	}
	if cfg.Manager.WorkerName != "" {
		t.Errorf("the worker wrote %q into the config; the default must stay unresolved there", cfg.Manager.WorkerName)
	}
}
