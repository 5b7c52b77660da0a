package bench

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/internal/testbin"
	"github.com/cajonfarm/cajon/sdk/proctree"
)

// binDir holds the binaries TestMain builds once for all benchmarks.
var binDir string

func TestMain(m *testing.M) {
	if runtime.GOOS != "linux" {
		fmt.Println("bench: Linux only")
		os.Exit(0)
	}
	flag.Parse()
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		os.Exit(m.Run()) // no benchmark asked for: nothing to build
	}
	dir, err := os.MkdirTemp("", "cajon-bench-")
	if err != nil {
		panic(err)
	}
	if err := testbin.Build(dir, "exec", "testkit"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	_ = proctree.SetSubreaper()
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// statusKB reads a "VmHWM:"-style field of /proc/<pid>/status in KiB.
func statusKB(pid, field string) (int64, error) {
	f, err := os.Open("/proc/" + pid + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("%s not in /proc/%s/status", field, pid)
}

// resetPeakRSS makes VmHWM start again from the current RSS (Linux 4.0+).
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// cpuSeconds is a process's user+system CPU time, including children it
// waited for, from /proc/<pid>/stat.
func cpuSeconds(pid string) (float64, error) {
	raw, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(raw)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	// utime stime cutime cstime are fields 14..17 of stat, 11..14 here.
	var ticks float64
	for _, f := range fields[11:15] {
		v, _ := strconv.ParseFloat(f, 64)
		ticks += v
	}
	return ticks / 100, nil // USER_HZ is 100 on Linux
}
