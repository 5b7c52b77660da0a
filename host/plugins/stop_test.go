package plugins_test

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cajonfarm/cajon/host/plugins"
	"github.com/hashicorp/go-hclog"
)

// lockedBuffer is a goroutine-safe log sink.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestStopClosesTheLifelineFirst: a plugin that exits when its lifeline
// closes and knows nothing of go-plugin's controller service (as a plugin in
// another language) is stopped by the lifeline, not killed.
func TestStopClosesTheLifelineFirst(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "marker")
	t.Setenv("CAJON_FOREIGN_MARKER", marker)
	var logs lockedBuffer
	reg := open(t, []string{foreignDir}, func(o *plugins.Options) {
		o.ProcessLogger = hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Debug})
	})
	if len(reg.Processes()) != 1 {
		t.Fatalf("the foreign plugin is not running: %v; notes %v", reg.Processes(), reg.Notes())
	}
	reg.Close()
	raw, err := os.ReadFile(marker)
	if err != nil || strings.TrimSpace(string(raw)) != "lifeline" {
		t.Errorf("the plugin did not exit through its lifeline (marker: %q, %v)", raw, err)
	}
	if strings.Contains(logs.String(), "failed to exit gracefully") {
		t.Errorf("the plugin was killed:\n%s", logs.String())
	}
}
