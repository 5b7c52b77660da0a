package metrics_test

import (
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/internal/managertest"
	"github.com/cajonfarm/cajon/internal/testwait"
)

// BenchmarkScrapeUnderRunningTask scrapes /metrics of a real worker while it
// runs a task that logs about 100 lines a second (a render's pace), with the
// Go and process collectors on. Goal: 5 ms per scrape.
func BenchmarkScrapeUnderRunningTask(b *testing.B) {
	mgr := managertest.New(b, managertest.Config{})
	o := startObserved(b, mgr, time.Minute)
	job := mgr.AddJob(managertest.Job{Tasks: []managertest.Task{{Name: "render", Type: "misc", Commands: []managertest.Command{
		{Name: "exec", Parameters: map[string]any{"script": "#!/bin/sh\ni=0\nwhile :; do echo \"Fra:1 Mem:512M | Rendering $i / 100000 samples\"; i=$((i+1)); sleep 0.01; done\n"}},
	}}}})
	testwait.For(b, "the task to log", func() bool {
		ts, _ := mgr.Task(job.Tasks[0].ID)
		return len(ts.Log) > 1000
	})
	client := &http.Client{}
	url := "http://" + o.addr + "/metrics"
	var took []time.Duration
	size := 0
	for b.Loop() {
		start := time.Now()
		resp, err := client.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("GET /metrics: %d, %v", resp.StatusCode, err)
		}
		took = append(took, time.Since(start))
		size = int(n)
	}
	b.StopTimer()
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(took[len(took)*95/100].Microseconds())/1000, "p95-ms")
	b.ReportMetric(float64(size), "bytes/scrape")
	if ts, _ := mgr.Task(job.Tasks[0].ID); ts.Status != managertest.StatusActive {
		b.Fatalf("the task was not running throughout: %s", ts.Status)
	}
}
