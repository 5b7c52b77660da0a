package faults

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/updates"
	"github.com/cajonfarm/cajon/host/worker"
	"github.com/cajonfarm/cajon/internal/managertest"
	"github.com/cajonfarm/cajon/internal/testwait"
	"github.com/cajonfarm/cajon/internal/workertest"
)

func testQueueDiskFull(t *testing.T) {
	mgr := managertest.New(t, managertest.Config{})
	// 300 lines of 1 KB: far more than the queue's files may grow to.
	const lines = 300
	pad := strings.Repeat("p", 1000)
	id := oneTask(mgr, workertest.ShellTask("printer",
		fmt.Sprintf(`i=0; while [ $i -lt %d ]; do echo "line $i %s"; i=$((i+1)); sleep 0.01; done`, lines, pad)))
	state := t.TempDir()
	env := append(cajonEnv(mgr, state), "CAJON_MAX_LOG_BYTES=67108864")
	const limit = 256 << 10
	c := startCajon(t, env, limit, "run")

	testwait.Within(t, "the first lines of the task", 30*time.Second, func() bool {
		return strings.Contains(mgr.MustTask(t, id).Log, "line 3 ")
	})
	mgr.MustTakeDown(t)
	testwait.Within(t, "cajon to report the full disk", 60*time.Second, func() bool {
		return strings.Contains(c.out.String(), "disk refuses writes: holding updates in memory")
	})
	testwait.Within(t, "the task to end", 60*time.Second, func() bool {
		return strings.Contains(c.out.String(), "task completed")
	})
	queueFile := worker.QueuePath(state)
	// SQLite reports a write past RLIMIT_FSIZE as a disk I/O error (a full
	// disk as "database or disk is full"); either way the file is named.
	if !strings.Contains(c.out.String(), "path="+queueFile) {
		t.Errorf("cajon's error does not name the queue file %s", queueFile)
	}
	// The Manager comes back while the disk is still full: what is on disk
	// and what is held in memory goes out, in order, final status last.
	if err := mgr.ClearFaults(); err != nil {
		t.Fatal(err)
	}
	testwait.Within(t, "the task to be completed on the Manager", 60*time.Second, func() bool {
		return mgr.MustTask(t, id).Status == "completed"
	})
	got := workertest.Numbered(mgr.MustTask(t, id).Log, "line ")
	if len(got) != lines {
		t.Errorf("the Manager got %d of %d lines", len(got), lines)
	}
	for i := range got {
		if got[i] != i {
			t.Errorf("line %d arrived as number %d: lost, repeated or out of order", got[i], i)
			break
		}
	}
	c.signal(t, syscall.SIGTERM)
	if code := c.wait(t, 60*time.Second); code != 0 {
		t.Errorf("cajon exited with %d after SIGTERM, want 0", code)
	}
	mgr.CheckProtocol(t)
}

func testQueueCorrupt(t *testing.T) {
	cases := []struct {
		name  string
		write func(t *testing.T, path string)
	}{
		{"garbage-file", func(t *testing.T, path string) {
			if err := os.WriteFile(path, garbage(64<<10), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"overwritten-pages", func(t *testing.T, path string) {
			q, err := updates.Open(context.Background(), updates.Options{Path: path})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 300 {
				if err := q.Append(context.Background(), updates.Update{TaskID: "old-task", Log: fmt.Sprintf("old %d %s", i, strings.Repeat("o", 2000))}); err != nil {
					t.Fatal(err)
				}
			}
			if err := q.Close(); err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			// Pages 3 to 10 of the table's b-tree; the header stays valid.
			if _, err := f.WriteAt(garbage(8*4096), 2*4096); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mgr := managertest.New(t, managertest.Config{})
			cfg := workerConfig(t, mgr)
			path := worker.QueuePath(cfg.StateDir)
			c.write(t, path)
			original, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			const lines = 20
			id := oneTask(mgr, workertest.ShellTask("printer", workertest.PrinterScript("line ", lines, "0.01")))
			r := workertest.Start(t, cfg, openRegistry(t, nil, 0), workertest.FastTimings(), nil)

			ts := waitTaskStatus(t, mgr, id, managertest.StatusCompleted, 60*time.Second)
			workertest.CheckExactlyOnce(t, ts, "line ", lines)
			checkStatuses(t, ts, false, managertest.StatusActive, managertest.StatusCompleted)
			log := r.Log.String()
			if !strings.Contains(log, "task update queue database was corrupt: moved it aside") || !strings.Contains(log, path) {
				t.Errorf("no warning naming %s says it was moved aside", path)
			}
			moved, _ := filepath.Glob(path + ".corrupt-*")
			moved = slices.DeleteFunc(moved, func(p string) bool { return strings.HasSuffix(p, "-wal") })
			if len(moved) != 1 {
				t.Fatalf("moved-aside files %v, want one", moved)
			}
			kept, err := os.ReadFile(moved[0])
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(kept, original) {
				t.Errorf("%s does not hold the corrupt file's bytes", moved[0])
			}
			if !strings.Contains(log, moved[0]) {
				t.Errorf("the warning does not name %s", moved[0])
			}
			mgr.CheckProtocol(t)
		})
	}
}

// garbage returns n bytes that are no database: a fixed pseudo-random
// sequence, so a failure can be replayed.
func garbage(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}
