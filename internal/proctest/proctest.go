// Package proctest helps tests watch the processes they start: whether one
// still runs, the pids a test script wrote down, and what a process (or a
// logger) writes while the test reads it.
package proctest

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// ReadPidFiles returns the pids written so far to the files of dir named
// names, one pid and a newline in each: a file that is missing or not
// written whole yet is left out.
func ReadPidFiles(dir string, names ...string) map[string]int {
	pids := map[string]int{}
	for _, n := range names {
		raw, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil || !strings.HasSuffix(string(raw), "\n") {
			continue
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(raw))); err == nil {
			pids[n] = pid
		}
	}
	return pids
}

// ReadPidList returns the pids in the file at path, separated by white
// space; none when the file is missing. Anything else in it fails tb.
func ReadPidList(tb testing.TB, path string) []int {
	tb.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(raw)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			tb.Fatalf("pid file %s: %q is not a pid", path, f)
		}
		pids = append(pids, pid)
	}
	return pids
}

// Output collects what a process writes to its stdout and stderr, or a
// logger from several goroutines, for a test that reads it meanwhile.
type Output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

// String returns everything written so far.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}
