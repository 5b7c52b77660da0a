package plugins_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/cajonfarm/cajon/host/plugins"
	"github.com/hashicorp/go-hclog"
)

// oom_score_adjust reaches every process of a command (a shell and its
// child), and the host keeps its own score. Lowering it needs
// CAP_SYS_RESOURCE: without it the commands keep the host's score and the
// host warns, naming the capability.
func TestOOMScoreAdjustReachesTheCommandsTree(t *testing.T) {
	own := readOOMAdj(t, os.Getpid())
	canLower := hasCapSysResource(t)
	for _, tc := range []struct {
		name  string
		value int
	}{
		{"raised", 500},
		{"lowered", -200},
		{"left alone", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var warnings bytes.Buffer
			reg := open(t, []string{filepath.Join(binDir, "plugins")}, func(o *plugins.Options) {
				o.OOMScoreAdjust = tc.value
				o.ProcessLogger = hclog.New(&hclog.LoggerOptions{Output: &syncWriter{w: &warnings}, Level: hclog.Warn})
			})
			var c collector
			script := `echo "shell $(cat /proc/$$/oom_score_adj)"; sh -c 'echo "child $(cat /proc/self/oom_score_adj)"'`
			res := reg.Run(context.Background(), req("test-tree", map[string]any{"script": script}), &c)
			if res.Status != plugins.Completed {
				t.Fatalf("status %v: %s", res.Status, res.Message)
			}
			want := tc.value
			if want == 0 || (want < own && !canLower) {
				want = own
			}
			if want != tc.value && tc.value != 0 {
				if w := warnings.String(); !strings.Contains(w, "CAP_SYS_RESOURCE") {
					t.Errorf("no warning naming CAP_SYS_RESOURCE: %q", w)
				}
			}
			got := strings.Join(c.lines, "\n")
			for _, line := range []string{"shell " + strconv.Itoa(want), "child " + strconv.Itoa(want)} {
				if !strings.Contains(got, line) {
					t.Errorf("log lacks %q:\n%s", line, got)
				}
			}
			if now := readOOMAdj(t, os.Getpid()); now != own {
				t.Errorf("the host's own score changed from %d to %d", own, now)
			}
		})
	}
}

// hasCapSysResource reports whether this process may lower OOM scores.
func hasCapSysResource(t *testing.T) bool {
	t.Helper()
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if hex, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			const capSysResource = 24
			return caps&(1<<capSysResource) != 0
		}
	}
	return false
}

// syncWriter lets the plugin's start goroutines log into one buffer.
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func readOOMAdj(t *testing.T, pid int) int {
	t.Helper()
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/oom_score_adj")
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}
