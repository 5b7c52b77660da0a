package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/loglimit"
	"github.com/cajonfarm/cajon/host/plugins"
)

func openExec(b *testing.B) *plugins.Registry {
	b.Helper()
	reg, err := plugins.Open(context.Background(), plugins.Options{Dirs: []string{filepath.Join(binDir, "plugins")}})
	if err != nil {
		b.Fatal(err)
	}
	return reg
}

// eventFuncs is a plugins.Events that hands log batches to log and tells
// any of every event; unset funcs are skipped.
type eventFuncs struct {
	log func([]string)
	any func()
}

func (e eventFuncs) Log(lines []string) {
	e.seen()
	if e.log != nil {
		e.log(lines)
	}
}

func (e eventFuncs) Progress(plugins.Progress)  { e.seen() }
func (e eventFuncs) Output(plugins.Output)      { e.seen() }
func (e eventFuncs) Child(plugins.ChildProcess) { e.seen() }

func (e eventFuncs) seen() {
	if e.any != nil {
		e.any()
	}
}

// BenchmarkPluginColdStart: from nothing to the first event of an echo,
// including discovery, process start, handshake and Describe of the exec
// plugin (the testkit plugin is left out by using only its folder's exec).
func BenchmarkPluginColdStart(b *testing.B) {
	dir := b.TempDir()
	if err := linkPlugin(filepath.Join(binDir, "plugins", "cajon-plugin-exec"), dir); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		reg, err := plugins.Open(context.Background(), plugins.Options{Dirs: []string{dir}})
		if err != nil {
			b.Fatal(err)
		}
		var first time.Duration
		res := reg.Run(context.Background(), plugins.Request{RunID: fmt.Sprint("cold", i), Command: "echo", Params: map[string]any{"message": "x"}},
			eventFuncs{any: func() {
				if first == 0 {
					first = time.Since(start)
				}
			}})
		if res.Status != plugins.Completed || first == 0 {
			b.Fatalf("echo: %v", res)
		}
		b.StopTimer()
		b.ReportMetric(float64(first.Microseconds())/1000, "ms-to-first-event")
		reg.Close()
		b.StartTimer()
	}
}

// BenchmarkWarmEcho: one echo command through a running plugin.
func BenchmarkWarmEcho(b *testing.B) {
	reg := openExec(b)
	defer reg.Close()
	params := map[string]any{"message": "x"}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res := reg.Run(context.Background(), plugins.Request{RunID: "warm" + strconv.Itoa(i), Command: "echo", Params: params}, eventFuncs{})
		if res.Status != plugins.Completed {
			b.Fatal(res)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/command")
}

// BenchmarkLogPipeline: a command printing 1,000,000 lines of 100 bytes
// through a child process, the plugin, gRPC and the default log limiter.
func BenchmarkLogPipeline(b *testing.B) {
	const lines, width = 1_000_000, 100
	reg := openExec(b)
	defer reg.Close()
	// Warm the plugin so its start-up is not measured.
	if res := reg.Run(context.Background(), plugins.Request{RunID: "warmup", Command: "test-steps"}, nil); res.Status != plugins.Completed {
		b.Fatal(res)
	}
	pid := strconv.Itoa(reg.Processes()[0].PID)
	for _, p := range reg.Processes() {
		if p.Plugin == "testkit" {
			pid = strconv.Itoa(p.PID)
		}
	}
	var produced, sent int64
	hostCPU0, _ := cpuSeconds("self")
	plugCPU0, _ := cpuSeconds(pid)
	resetPeakRSS()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		lim := loglimit.New(loglimit.DefaultMaxBytes)
		res := reg.Run(context.Background(), plugins.Request{RunID: "flood" + strconv.Itoa(i), Command: "test-flood",
			Params: map[string]any{"lines": lines, "width": width}}, eventFuncs{log: func(lines []string) {
			for _, line := range lines {
				produced += int64(len(line) + 1)
			}
			for _, line := range lim.Add(lines) {
				sent += int64(len(line) + 1)
			}
		}})
		if tail, ok := lim.CloseText(""); ok {
			sent += int64(len(tail) + 1)
		}
		if res.Status != plugins.Completed {
			b.Fatal(res)
		}
	}
	b.StopTimer()
	hostCPU1, _ := cpuSeconds("self")
	plugCPU1, _ := cpuSeconds(pid)
	hostPeak, _ := statusKB("self", "VmHWM")
	plugPeak, _ := statusKB(pid, "VmHWM")
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(produced)/secs/1e6, "MB/s")
	b.ReportMetric((hostCPU1-hostCPU0)/float64(b.N), "host-cpu-s/op")
	b.ReportMetric((plugCPU1-plugCPU0)/float64(b.N), "plugin-cpu-s/op")
	b.ReportMetric(float64(hostPeak)/1024, "host-peak-MB")
	b.ReportMetric(float64(plugPeak)/1024, "plugin-peak-MB")
	b.ReportMetric(float64(hostPeak+plugPeak)/1024, "peak-RSS-MB")
	b.ReportMetric(float64(sent)/float64(produced)*100, "%-sent")
}
