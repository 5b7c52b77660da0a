package identities_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/config"
	"github.com/cajonfarm/cajon/host/identities"
	"github.com/cajonfarm/cajon/host/plugins"
	"github.com/cajonfarm/cajon/internal/managertest"
	"github.com/cajonfarm/cajon/internal/proctest"
	"github.com/cajonfarm/cajon/internal/testbin"
	"github.com/cajonfarm/cajon/internal/testwait"
	"github.com/cajonfarm/cajon/internal/workertest"
	"github.com/hashicorp/go-hclog"
)

// binDir holds the plugins built once for the whole test binary.
var binDir string

func TestMain(m *testing.M) { os.Exit(testbin.Main(m, &binDir, "exec", "testkit")) }

func TestResolve(t *testing.T) {
	cfg := config.Defaults()
	cfg.StateDir = "/var/lib/cajon"
	cfg.Manager.WorkerName = "render-07"
	cfg.TaskTypes = []string{"blender", "misc"}
	tests := []struct {
		name       string
		configured []config.IdentityConfig
		want       []identities.Identity
		err        string
	}{
		{"defaults", make([]config.IdentityConfig, 2), []identities.Identity{
			{N: 1, Name: "render-07-1", StateDir: "/var/lib/cajon/identity-1", TaskTypes: []string{"blender", "misc"}},
			{N: 2, Name: "render-07-2", StateDir: "/var/lib/cajon/identity-2", TaskTypes: []string{"blender", "misc"}},
		}, ""},
		{"names, env and task types of their own", []config.IdentityConfig{
			{Name: "gpu0", Env: map[string]string{"CUDA_VISIBLE_DEVICES": "0"}},
			{TaskTypes: []string{"file-management"}},
		}, []identities.Identity{
			{N: 1, Name: "gpu0", StateDir: "/var/lib/cajon/identity-1", Env: map[string]string{"CUDA_VISIBLE_DEVICES": "0"}, TaskTypes: []string{"blender", "misc"}},
			{N: 2, Name: "render-07-2", StateDir: "/var/lib/cajon/identity-2", TaskTypes: []string{"file-management"}},
		}, ""},
		{"GPUs and devices", []config.IdentityConfig{
			{GPU: []string{"0", "GPU-8f6e"}, CyclesDevice: "OPTIX"},
			{GPU: []string{"1"}, CyclesDevice: "HIP+CPU"},
			{GPU: []string{"0", "1"}, CyclesDevice: "ONEAPI"},
			{CyclesDevice: "CUDA"},
			{CyclesDevice: "CPU"},
			{GPU: []string{"2"}, CyclesDevice: "CUDA", Env: map[string]string{"CUDA_VISIBLE_DEVICES": "3", "CUDA_DEVICE_ORDER": "PCI_BUS_ID", "OCIO": "/o"}},
		}, []identities.Identity{
			{N: 1, Name: "render-07-1", StateDir: "/var/lib/cajon/identity-1", TaskTypes: []string{"blender", "misc"},
				Env: map[string]string{"CAJON_CYCLES_DEVICE": "OPTIX", "CUDA_VISIBLE_DEVICES": "0,GPU-8f6e", "CUDA_DEVICE_ORDER": "PCI_BUS_ID"},
				GPU: []string{"0", "GPU-8f6e"}, CyclesDevice: "OPTIX"},
			{N: 2, Name: "render-07-2", StateDir: "/var/lib/cajon/identity-2", TaskTypes: []string{"blender", "misc"},
				Env: map[string]string{"CAJON_CYCLES_DEVICE": "HIP+CPU", "HIP_VISIBLE_DEVICES": "1"},
				GPU: []string{"1"}, CyclesDevice: "HIP+CPU"},
			{N: 3, Name: "render-07-3", StateDir: "/var/lib/cajon/identity-3", TaskTypes: []string{"blender", "misc"},
				Env: map[string]string{"CAJON_CYCLES_DEVICE": "ONEAPI", "ONEAPI_DEVICE_SELECTOR": "level_zero:0,1"},
				GPU: []string{"0", "1"}, CyclesDevice: "ONEAPI"},
			{N: 4, Name: "render-07-4", StateDir: "/var/lib/cajon/identity-4", TaskTypes: []string{"blender", "misc"},
				Env: map[string]string{"CAJON_CYCLES_DEVICE": "CUDA"}, CyclesDevice: "CUDA"},
			{N: 5, Name: "render-07-5", StateDir: "/var/lib/cajon/identity-5", TaskTypes: []string{"blender", "misc"},
				Env: map[string]string{"CAJON_CYCLES_DEVICE": "CPU"}, CyclesDevice: "CPU"},
			{N: 6, Name: "render-07-6", StateDir: "/var/lib/cajon/identity-6", TaskTypes: []string{"blender", "misc"},
				Env: map[string]string{"CAJON_CYCLES_DEVICE": "CUDA", "CUDA_VISIBLE_DEVICES": "3", "CUDA_DEVICE_ORDER": "PCI_BUS_ID", "OCIO": "/o"},
				GPU: []string{"2"}, CyclesDevice: "CUDA",
				EnvConflicts: []string{`env sets CUDA_VISIBLE_DEVICES="3", but gpu and cycles_device give "2": the identity's env wins`}},
		}, ""},
		{"a name that a default takes too", []config.IdentityConfig{{Name: "render-07-2"}, {}}, nil,
			`worker identities 1 and 2 are both named "render-07-2"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := identities.Resolve(&cfg, tt.configured)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				got[i].StateDir = filepath.ToSlash(got[i].StateDir)
				if len(got[i].Env) == 0 {
					got[i].Env = nil
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("Resolve:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestExistingStateDirs(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"identity-10", "identity-2", "identity-x", "task-logs"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "identity-3"), nil, 0o600); err != nil { // a file, not a folder
		t.Fatal(err)
	}
	got, err := identities.ExistingStateDirs(dir)
	want := []string{filepath.Join(dir, "identity-2"), filepath.Join(dir, "identity-10")}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("ExistingStateDirs = %q, %v; want %q", got, err, want)
	}
	if got, err := identities.ExistingStateDirs(filepath.Join(dir, "missing")); err != nil || got != nil {
		t.Errorf("a missing state dir: %q, %v", got, err)
	}
}

// farm runs two identities of mgr in the background until the test ends.
type farm struct {
	f      *identities.Farm
	log    *proctest.Output
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

func startFarm(t *testing.T, mgr *managertest.Manager, configured []config.IdentityConfig) *farm {
	t.Helper()
	reg := workertest.OpenPlugins(t, plugins.Options{Dirs: []string{filepath.Join(binDir, "plugins")}})
	cfg := workertest.FastConfig(t, mgr, "node")
	cfg.KillGrace = time.Second
	ids, err := identities.Resolve(cfg, configured)
	if err != nil {
		t.Fatal(err)
	}
	log := &proctest.Output{}
	f, err := identities.New(identities.Options{
		Config: cfg, Identities: ids, Commands: reg, Plugins: reg,
		Logger:  hclog.New(&hclog.LoggerOptions{Level: hclog.Debug, Output: log}),
		Timings: workertest.FastTimings(), RestartDelay: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &farm{f: f, log: log, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		_, r.err = f.Run(ctx)
	}()
	t.Cleanup(func() {
		r.stop(t)
		if t.Failed() {
			t.Logf("farm log:\n%s", log.String())
		}
	})
	return r
}

// stop shuts the farm down as SIGTERM does.
func (r *farm) stop(t *testing.T) {
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(60 * time.Second):
		t.Fatal("the farm did not stop within 60 s")
	}
	if r.err != nil {
		t.Errorf("Run: %v", r.err)
	}
}

// workerNamed returns the Manager's worker of that name.
func workerNamed(mgr *managertest.Manager, name string) (managertest.WorkerState, bool) {
	for _, w := range mgr.Workers() {
		if w.Name == name {
			return w, true
		}
	}
	return managertest.WorkerState{}, false
}

func awake(mgr *managertest.Manager, names ...string) func() bool {
	return func() bool {
		for _, n := range names {
			if w, ok := workerNamed(mgr, n); !ok || w.Status != managertest.WorkerAwake {
				return false
			}
		}
		return true
	}
}

// slotTask records the GPU and Cycles device its identity gives it, then
// runs until aborted.
func slotTask(name, dir string) managertest.Task {
	return managertest.Task{Name: name, Type: "test", Commands: []managertest.Command{
		{Name: "test-tree", Parameters: map[string]any{"script": fmt.Sprintf(`echo "$$ $CUDA_VISIBLE_DEVICES:$CAJON_CYCLES_DEVICE" > %s/%s.tmp && mv %s/%s.tmp %s/%s; exec sleep 60`,
			dir, name, dir, name, dir, name)}},
	}}
}

// started reads what a slotTask wrote: its pid, and its GPU and device.
func started(dir, name string) (pid int, gpu string, ok bool) {
	raw, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return 0, "", false
	}
	if _, err := fmt.Sscanf(string(raw), "%d %s", &pid, &gpu); err != nil {
		return 0, "", false
	}
	return pid, gpu, true
}

func TestTwoIdentitiesShareTheHostAndLiveApart(t *testing.T) {
	mgr := managertest.New(t, managertest.Config{})
	f := startFarm(t, mgr, []config.IdentityConfig{
		{GPU: []string{"0"}, CyclesDevice: "OPTIX"},
		{GPU: []string{"5"}, CyclesDevice: "CUDA", Env: map[string]string{"CUDA_VISIBLE_DEVICES": "1"}}, // env wins
	})
	for _, want := range []string{
		`node-1: Blender renders on the identity's Cycles device: identity=1 cycles_device=OPTIX gpu=0 env=CUDA_VISIBLE_DEVICES=0`,
		`node-2: Blender renders on the identity's Cycles device: identity=2 cycles_device=CUDA gpu=5 env=CUDA_VISIBLE_DEVICES=1`,
		`[WARN]  node-2: worker identity 2: env sets CUDA_VISIBLE_DEVICES="1", but gpu and cycles_device give "5": the identity's env wins`,
	} {
		if !strings.Contains(f.log.String(), want) {
			t.Errorf("the farm's start-up log has no %q", want)
		}
	}
	testwait.For(t, "both identities to be awake", awake(mgr, "node-1", "node-2"))
	if len(mgr.Workers()) != 2 {
		t.Fatalf("the Manager has %d workers, want 2: %+v", len(mgr.Workers()), mgr.Workers())
	}

	// Two tasks of one job run at once, one per identity, each with its
	// identity's environment.
	dir := t.TempDir()
	job := mgr.AddJob(managertest.Job{Tasks: []managertest.Task{slotTask("a", dir), slotTask("b", dir)}})
	testwait.For(t, "both tasks to run", func() bool {
		_, _, a := started(dir, "a")
		_, _, b := started(dir, "b")
		return a && b
	})
	pidA, gpuA, _ := started(dir, "a")
	pidB, gpuB, _ := started(dir, "b")
	ta, tb := job.Tasks[0].ID, job.Tasks[1].ID
	stA, _ := mgr.Task(ta)
	stB, _ := mgr.Task(tb)
	if stA.Worker == stB.Worker {
		t.Fatalf("both tasks went to worker %s", stA.Worker)
	}
	wantGPU := map[string]string{}
	for _, w := range mgr.Workers() {
		wantGPU[w.ID] = map[string]string{"node-1": "0:OPTIX", "node-2": "1:CUDA"}[w.Name]
	}
	if gpuA != wantGPU[stA.Worker] || gpuB != wantGPU[stB.Worker] {
		t.Errorf("GPU of task a %q (want %q), of task b %q (want %q)", gpuA, wantGPU[stA.Worker], gpuB, wantGPU[stB.Worker])
	}

	// Cancelling one task aborts only that one.
	if err := mgr.CancelTask(ta); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, "the cancelled task's process to be gone", func() bool { return !proctest.Alive(pidA) })
	if !proctest.Alive(pidB) {
		t.Fatal("cancelling task a killed task b too")
	}
	if st, _ := mgr.Task(tb); st.Status != managertest.StatusActive {
		t.Fatalf("task b is %s after cancelling task a, want active", st.Status)
	}

	// Sleep, restart and offline reach only the identity they target.
	var idle managertest.WorkerState // the identity whose task was cancelled
	for _, w := range mgr.Workers() {
		if w.ID == stA.Worker {
			idle = w
		}
	}
	if err := mgr.RequestStatus(idle.ID, managertest.WorkerAsleep, false); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, "the idle identity to sleep", func() bool { w, _ := workerNamed(mgr, idle.Name); return w.Status == managertest.WorkerAsleep })
	if err := mgr.RequestStatus(idle.ID, managertest.WorkerRestart, false); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, "the restarted identity to sign on again", func() bool { w, _ := workerNamed(mgr, idle.Name); return w.SignOns == 2 })
	if err := mgr.RequestStatus(idle.ID, managertest.WorkerOffline, false); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, "the idle identity to go offline", func() bool { w, _ := workerNamed(mgr, idle.Name); return w.Status == managertest.WorkerOffline })
	if !proctest.Alive(pidB) {
		t.Fatal("the other identity's task died when this one slept, restarted or went offline")
	}
	for _, w := range mgr.Workers() {
		if w.ID != idle.ID && (w.Status != managertest.WorkerAwake || w.SignOns != 1) {
			t.Errorf("the busy identity %s is %s after %d sign-ons; the requests were not for it", w.Name, w.Status, w.SignOns)
		}
	}

	// A shutdown signs every identity off and aborts the running task.
	f.stop(t)
	for _, w := range mgr.Workers() {
		if w.Status != managertest.WorkerOffline {
			t.Errorf("identity %s is %s after the shutdown, want offline", w.Name, w.Status)
		}
	}
	testwait.For(t, "task b's process to be gone after the shutdown", func() bool { return !proctest.Alive(pidB) })
	for _, n := range []int{1, 2} {
		if _, err := os.Stat(filepath.Join(f.f.Identities()[n-1].StateDir, "flamenco-credentials.json")); err != nil {
			t.Errorf("identity %d keeps no credentials of its own: %v", n, err)
		}
	}
}

// Each identity has its own memory cap: the same hog fails for the capped
// identity, saying so in its task log, and runs on for the other one.
func TestIdentitiesHaveTheirOwnMemoryCap(t *testing.T) {
	mgr := managertest.New(t, managertest.Config{FailAfter: 1})
	startFarm(t, mgr, []config.IdentityConfig{
		{MaxTaskMemory: 64 << 20},
		{}, // the top-level max_task_memory: none
	})
	testwait.For(t, "both identities to be awake", awake(mgr, "node-1", "node-2"))
	dir := t.TempDir()
	release := filepath.Join(dir, "release")
	hog := func(name string) managertest.Task {
		script := fmt.Sprintf(`perl -e '$x = "x" x (200 << 20); open(F, ">%s/%s") or die; print F "$$\n"; close F; select(undef, undef, undef, 0.05) until -e "%s"'`, dir, name, release)
		return managertest.Task{Name: name, Type: "test", Commands: []managertest.Command{{Name: "test-tree", Parameters: map[string]any{"script": script}}}}
	}
	// Two jobs: a failed task fails its job, which cancels the job's other tasks.
	jobs := []managertest.Job{
		mgr.AddJob(managertest.Job{Tasks: []managertest.Task{hog("a")}}),
		mgr.AddJob(managertest.Job{Tasks: []managertest.Task{hog("b")}}),
	}
	names := map[string]string{} // worker id -> name
	for _, w := range mgr.Workers() {
		names[w.ID] = w.Name
	}
	var capped, free managertest.TaskState
	ranOn := map[string]string{} // task id -> worker id; a failed task has none
	testwait.For(t, "one task to fail over the cap while the other runs", func() bool {
		for _, j := range jobs {
			st, _ := mgr.Task(j.Tasks[0].ID)
			if st.Worker != "" {
				ranOn[st.ID] = st.Worker
			}
			switch {
			case st.Status == managertest.StatusFailed:
				capped = st
			case st.Status == managertest.StatusActive:
				if _, err := os.Stat(filepath.Join(dir, st.Name)); err == nil {
					free = st
				}
			}
		}
		return capped.ID != "" && free.ID != ""
	})
	if names[ranOn[capped.ID]] == "node-2" || names[free.Worker] != "node-2" {
		t.Errorf("the task over the cap ran on %q, the other on %q; want node-1 and node-2", names[ranOn[capped.ID]], names[free.Worker])
	}
	if !strings.Contains(capped.Log, "killed by the out-of-memory killer (max_task_memory)") || !strings.Contains(capped.Log, "limit 64.0 MiB") {
		t.Errorf("the failed task's log does not say why:\n%s", capped.Log)
	}
	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, "the uncapped task to complete", func() bool {
		st, _ := mgr.Task(free.ID)
		free = st
		return st.Status == managertest.StatusCompleted
	})
	if !strings.Contains(free.Log, "cajon: peak memory of the command's processes: ") {
		t.Errorf("the completed task's log has no peak memory:\n%s", free.Log)
	}
}

// An identity's own max_task_memory wins; without one it has the process's.
func TestResolveMemoryCaps(t *testing.T) {
	cfg := config.Defaults()
	cfg.StateDir = "/var/lib/cajon"
	cfg.Manager.WorkerName = "render-07"
	cfg.MaxTaskMemory = 8 << 30
	ids, err := identities.Resolve(&cfg, []config.IdentityConfig{{MaxTaskMemory: 24 << 30}, {}})
	if err != nil {
		t.Fatal(err)
	}
	if got := []int64{ids[0].MaxTaskMemory, ids[1].MaxTaskMemory}; got[0] != 24<<30 || got[1] != 8<<30 {
		t.Errorf("memory caps %v, want [24 GiB, 8 GiB]", got)
	}
}
