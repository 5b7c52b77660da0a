package plugins_test

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func goBuild(dir, out, pkg string) ([]byte, error) {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = dir
	return cmd.CombinedOutput()
}

func mustRel(t *testing.T, base, target string) string {
	t.Helper()
	rel, err := filepath.Rel(base, target)
	if err != nil {
		t.Fatal(err)
	}
	return rel
}

// waitForPids waits until each named pid file exists and returns the pids.
func waitForPids(t *testing.T, dir string, names ...string) map[string]int {
	t.Helper()
	pids := map[string]int{}
	deadline := time.Now().Add(20 * time.Second)
	for len(pids) < len(names) {
		for _, n := range names {
			raw, err := os.ReadFile(filepath.Join(dir, n))
			if err != nil || !strings.HasSuffix(string(raw), "\n") {
				continue
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
			if err == nil {
				pids[n] = pid
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the tree did not come up: have %v of %v", pids, names)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return pids
}

// alive reports whether pid runs (zombies count as gone).
func alive(pid int) bool {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// assertAllGone waits a little for the processes to go, then fails naming
// the survivors. The wait is a bound, not a speed check.
func assertAllGone(t *testing.T, pids map[string]int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var left []string
		for n, p := range pids {
			if alive(p) {
				left = append(left, n+"="+strconv.Itoa(p))
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes survived: %v", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// parentPluginOf walks up from pid to the cajon-plugin-* process.
func parentPluginOf(t *testing.T, pid int) int {
	t.Helper()
	for p := pid; p > 1; {
		comm, _ := os.ReadFile("/proc/" + strconv.Itoa(p) + "/comm")
		if strings.HasPrefix(strings.TrimSpace(string(comm)), "cajon-plugin-") {
			return p
		}
		raw, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/stat")
		if err != nil {
			break
		}
		s := string(raw)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		p, _ = strconv.Atoi(fields[1])
	}
	t.Fatalf("no plugin process above pid %d", pid)
	return 0
}

var pidRe = regexp.MustCompile(`pid (\d+)`)

func pidOf(status string) string {
	m := pidRe.FindStringSubmatch(status)
	if m == nil {
		return ""
	}
	return m[1]
}
