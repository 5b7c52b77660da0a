//go:build unix

package realmanager

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The benchmarks here compare Cajon with the stock flamenco-worker on the
// same real Manager, in one run (the machine is shared and noisy: compare
// the ratios, not the seconds). The stock worker is found on PATH or named by
// FLAMENCO_WORKER; without it its half is left out.
//
//	go test -run '^$' -bench . -benchtime 1x ./internal/realmanager/

// stockWorker starts the stock flamenco-worker against m, or returns nil
// when there is none.
func stockWorker(tb testing.TB, m *manager, name string) *exec.Cmd {
	tb.Helper()
	bin := os.Getenv("FLAMENCO_WORKER")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("flamenco-worker"); err != nil {
			return nil
		}
	}
	dir := tb.TempDir()
	cfg := fmt.Sprintf("manager_url: %s\ntask_types: [blender, ffmpeg, file-management, misc]\nworker_name: %s\n", m.URL, name)
	if err := os.WriteFile(filepath.Join(dir, "flamenco-worker.yaml"), []byte(cfg), 0o644); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir, "FLAMENCO_HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	log, err := os.Create(filepath.Join(dir, "worker.log"))
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		log.Close()
	})
	m.waitWorker(name, "awake", 60*time.Second)
	return cmd
}

// bareRender does the work of the 10-frame chunk-1 job by hand: one cold
// Blender per frame, as the job's tasks run it, then the ffmpeg encode.
func bareRender(tb testing.TB, blend, outDir string, frames int, fps float64) time.Duration {
	tb.Helper()
	start := time.Now()
	for f := 1; f <= frames; f++ {
		out, err := exec.Command("blender", "-b", "-y", blend, "--scene", "Scene",
			"--render-output", filepath.Join(outDir, "######"), "--render-format", "PNG",
			"--render-frame", strconv.Itoa(f)).CombinedOutput()
		if err != nil {
			tb.Fatalf("blender frame %d: %v\n%s", f, err, out)
		}
	}
	fpsArg := strconv.FormatFloat(fps, 'g', -1, 64)
	out, err := exec.Command("ffmpeg", "-r", fpsArg, "-pattern_type", "glob", "-i", filepath.Join(outDir, "*.png"),
		"-c:v", "h264", "-crf", "20", "-g", "18", "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-pix_fmt", "yuv420p",
		"-r", fpsArg, "-y", filepath.Join(outDir, "bare.mp4")).CombinedOutput()
	if err != nil {
		tb.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	return time.Since(start)
}

// BenchmarkSimpleBlenderRender: the stock 10-frame, chunk-1 Simple Blender
// Render job of the test scene on the real Manager, by Cajon and by the stock
// worker, against the same work done by hand (bare Blender + FFmpeg).
func BenchmarkSimpleBlenderRender(b *testing.B) {
	blender, _ := renderTools(b)
	m := startManager(b)
	blend := filepath.Join(m.Shared, "tiny.blend")
	makeScene(b, blender, blend)
	var bare, cajonT, stockT time.Duration
	for i := 0; i < b.N; i++ {
		bare += bareRender(b, blend, b.TempDir(), 10, 23.976)

		c := startCajon(b, m, fmt.Sprintf("cajon-bench-%d", i), cajonOptions{})
		m.waitWorker(c.Name, "awake", 60*time.Second)
		cajonT += timeJob(m, fmt.Sprintf("cajon-%d", i), blend)
		stopCajon(b, c)

		if w := stockWorker(b, m, fmt.Sprintf("stock-bench-%d", i)); w != nil {
			stockT += timeJob(m, fmt.Sprintf("stock-%d", i), blend)
			_ = w.Process.Signal(syscall.SIGTERM)
		}
	}
	n := float64(b.N)
	b.ReportMetric(bare.Seconds()/n, "bare-s")
	b.ReportMetric(cajonT.Seconds()/n, "cajon-s")
	b.ReportMetric(cajonT.Seconds()/bare.Seconds(), "cajon/bare")
	if stockT > 0 {
		b.ReportMetric(stockT.Seconds()/n, "stock-s")
		b.ReportMetric(stockT.Seconds()/bare.Seconds(), "stock/bare")
	}
}

// timeJob submits the 10-frame job and returns the time to its completion.
func timeJob(m *manager, name, blend string) time.Duration {
	m.tb.Helper()
	r := renderJob{Frames: "1-10", Chunk: 1, FPS: 23.976, Blend: blend, OutDir: filepath.Join(m.Shared, "render", name)}
	start := time.Now()
	job := m.submit("simple-blender-render", name, r.settings())
	m.waitJob(job, "completed", 10*time.Minute)
	return time.Since(start)
}

// stopCajon stops a worker as systemd would, and waits for it.
func stopCajon(tb testing.TB, c *cajon) {
	tb.Helper()
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	c.wait(60 * time.Second)
}

// BenchmarkLogLoad: CPU seconds that the worker (host and plugins, with the
// command's own processes) spends on a task printing 3,000,000 lines, Cajon
// against the stock worker, on the real Manager.
func BenchmarkLogLoad(b *testing.B) {
	m := startManager(b)
	var cajonCPU, stockCPU float64
	for i := 0; i < b.N; i++ {
		c := startCajon(b, m, fmt.Sprintf("cajon-log-%d", i), cajonOptions{})
		m.waitWorker(c.Name, "awake", 60*time.Second)
		cajonCPU += jobCPU(m, c.cmd.Process.Pid, fmt.Sprintf("cajon-%d", i))
		stopCajon(b, c)
		if w := stockWorker(b, m, fmt.Sprintf("stock-log-%d", i)); w != nil {
			stockCPU += jobCPU(m, w.Process.Pid, fmt.Sprintf("stock-%d", i))
			_ = w.Process.Signal(syscall.SIGTERM)
		}
	}
	n := float64(b.N)
	b.ReportMetric(cajonCPU/n, "cajon-cpu-s")
	if stockCPU > 0 {
		b.ReportMetric(stockCPU/n, "stock-cpu-s")
		b.ReportMetric(cajonCPU/stockCPU, "cajon/stock")
	}
}

// jobCPU runs the 3M-line job and returns the CPU seconds that the process
// tree under pid spent meanwhile.
func jobCPU(m *manager, pid int, name string) float64 {
	m.tb.Helper()
	before := treeCPU(pid)
	job := execJob(m, name, "/usr/bin/seq", "3000000")
	m.waitJob(job, "completed", 10*time.Minute)
	return treeCPU(pid) - before
}

// treeCPU is the CPU time, in seconds, of pid and its live descendants,
// with the children they reaped (from /proc/PID/stat: utime, stime, cutime,
// cstime, in clock ticks of 1/100 s).
func treeCPU(root int) float64 {
	children := map[int][]int{}
	ticks := map[int]float64{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(raw)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+2:]) // f[0] is field 3 (state)
		if len(f) < 15 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], pid)
		var sum float64
		for _, k := range []int{11, 12, 13, 14} { // utime stime cutime cstime
			v, _ := strconv.ParseFloat(f[k], 64)
			sum += v
		}
		ticks[pid] = sum
	}
	var total float64
	var walk func(int)
	walk = func(p int) {
		total += ticks[p]
		for _, c := range children[p] {
			walk(c)
		}
	}
	walk(root)
	return total / 100
}
