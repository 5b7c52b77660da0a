package logstore

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestEscapeName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"0b6e3c9e-4a1f-4f7e-9a52-2f1c1e6b7d10", "0b6e3c9e-4a1f-4f7e-9a52-2f1c1e6b7d10"},
		{"render_frames.1", "render_frames.1"},
		{"render 1/3", "render%201%2F3"},
		{"..", "%2E%2E"},
		{".", "%2E"},
		{".hidden", "%2Ehidden"},
		{"trailing.", "trailing%2E"},
		{`a\b:c`, "a%5Cb%3Ac"},
		{"nul", "%6Eul"},
		{"COM1", "%43OM1"},
		{"con.txt", "%63on.txt"},
		{"console", "console"},
		{"é", "%C3%A9"},
	}
	for _, tt := range tests {
		if got := escapeName(tt.in); got != tt.want {
			t.Errorf("escapeName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestWriteReadTail(t *testing.T) {
	s, err := Open(t.TempDir(), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.Writer("job-1", "task a/b")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(filepath.Dir(w.Path())) != s.Dir() {
		t.Fatalf("log %s is not two levels below %s", w.Path(), s.Dir())
	}
	var want []string
	for i := 0; i < 5000; i++ {
		line := fmt.Sprintf("line %04d %s", i, strings.Repeat("x", i%50))
		want = append(want, line)
		if err := w.Append([]string{line}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Append(nil); err != nil {
		t.Fatal(err)
	}
	tail, err := w.Tail(3)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tail, want[len(want)-3:]) {
		t.Errorf("Tail(3) = %q, want %q", tail, want[len(want)-3:])
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Append([]string{"late"}); err == nil {
		t.Error("Append after Close did not fail")
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	// A second writer (the task runs again) appends.
	w2, err := s.Writer("job-1", "task a/b")
	if err != nil {
		t.Fatal(err)
	}
	if err := w2.Append([]string{"second run", "done"}); err != nil {
		t.Fatal(err)
	}
	w2.Close()
	want = append(want, "second run", "done")

	r, err := s.Read("job-1", "task a/b")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	raw, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n"); !reflect.DeepEqual(got, want) {
		t.Errorf("read %d lines, want %d; last %q", len(got), len(want), got[len(got)-1])
	}
	tail, err = s.Tail("job-1", "task a/b", 20000)
	if err != nil || len(tail) != len(want) {
		t.Errorf("Tail(20000) = %d lines, %v; want %d", len(tail), err, len(want))
	}

	if _, err := s.Read("job-1", "never ran"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read of a missing log: %v, want fs.ErrNotExist", err)
	}
	if tail, err := s.Tail("job-1", "never ran", 5); err != nil || tail != nil {
		t.Errorf("Tail of a missing log = %q, %v; want nothing", tail, err)
	}
	if _, err := s.Writer("", "x"); err == nil {
		t.Error("Writer with an empty job id did not fail")
	}
}

func TestTailFile(t *testing.T) {
	long := strings.Repeat("y", 200<<10) // longer than one read chunk
	tests := []struct {
		name    string
		content string
		n       int
		want    []string
	}{
		{"empty", "", 3, nil},
		{"fewer lines", "a\nb\n", 3, []string{"a", "b"}},
		{"exact", "a\nb\nc\n", 3, []string{"a", "b", "c"}},
		{"more lines", "a\nb\nc\nd\n", 2, []string{"c", "d"}},
		{"no final newline", "a\nb\nc", 2, []string{"b", "c"}},
		{"empty lines", "a\n\n\n", 2, []string{"", ""}},
		{"zero", "a\n", 0, nil},
		{"long line then short", "x\n" + long + "\nz\n", 2, []string{long, "z"}},
		{"long last line", "x\n" + long + "\n", 1, []string{long}},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name)
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := TailFile(path, tt.n)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("TailFile(%q, %d) = %q, want %q", tt.content[:min(len(tt.content), 20)], tt.n, got, tt.want)
			}
		})
	}
}

// writeLog makes a closed log of size bytes, last written at mod.
func writeLog(t *testing.T, s *Store, job, task string, size int, mod time.Time) string {
	t.Helper()
	w, err := s.Writer(job, task)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Append([]string{strings.Repeat("z", size-1)}); err != nil {
		t.Fatal(err)
	}
	// Close prunes; the mtime is set afterwards, so prune again below.
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(w.Path(), mod, mod); err != nil {
		t.Fatal(err)
	}
	return w.Path()
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func TestPrune(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name   string
		limits Limits
		// logs by age in hours, all 1000 bytes
		ages []int
		// which survive
		kept []bool
	}{
		{"no caps", Limits{}, []int{1000, 10, 1}, []bool{true, true, true}},
		{"age", Limits{MaxAge: 24 * time.Hour}, []int{48, 25, 23, 1}, []bool{false, false, true, true}},
		{"size keeps newest", Limits{MaxTotalBytes: 2500}, []int{5, 4, 3, 2, 1}, []bool{false, false, false, true, true}},
		{"size exact", Limits{MaxTotalBytes: 3000}, []int{3, 2, 1}, []bool{true, true, true}},
		{"both", Limits{MaxTotalBytes: 2000, MaxAge: 10 * time.Hour}, []int{20, 3, 2, 1}, []bool{false, false, true, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(t.TempDir(), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			paths := make([]string, len(tt.ages))
			for i, age := range tt.ages {
				paths[i] = writeLog(t, s, fmt.Sprintf("job%d", i%2), fmt.Sprintf("task%d", i), 1000, now.Add(-time.Duration(age)*time.Hour))
			}
			// Reopen with the limits: Open prunes.
			s, err = Open(s.Dir(), tt.limits)
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range paths {
				if exists(p) != tt.kept[i] {
					t.Errorf("log %d (%d h old): exists=%v, want %v", i, tt.ages[i], exists(p), tt.kept[i])
				}
			}
			res, err := s.Prune()
			if err != nil {
				t.Fatal(err)
			}
			if res.Removed != 0 {
				t.Errorf("second prune removed %d more", res.Removed)
			}
		})
	}
}

func TestPruneKeepsOpenLogsAndRemovesEmptyFolders(t *testing.T) {
	s, err := Open(t.TempDir(), Limits{MaxTotalBytes: 1500})
	if err != nil {
		t.Fatal(err)
	}
	old := writeLog(t, s, "old-job", "t", 1000, time.Now().Add(-time.Hour))
	open, err := s.Writer("running-job", "t")
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	if err := open.Append([]string{strings.Repeat("r", 3000)}); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(open.Path(), time.Now().Add(-2*time.Hour), time.Now().Add(-2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	res, err := s.Prune()
	if err != nil {
		t.Fatal(err)
	}
	if !exists(open.Path()) {
		t.Error("the open log was pruned")
	}
	if exists(old) {
		t.Error("the closed log was kept although the total is over the cap")
	}
	if exists(filepath.Dir(old)) {
		t.Error("the empty job folder was kept")
	}
	if res.Removed != 1 || res.RemovedBytes != 1000 || res.KeptBytes != 3001 {
		t.Errorf("Prune = %+v", res)
	}
}

func TestRemoveJob(t *testing.T) {
	tests := []struct {
		name string
		job  string
		// tasks of the job whose log is still open for writing
		open []string
		// want
		removed int
		bytes   int64
		dirGone bool
	}{
		{"all closed", "job 1/2", nil, 3, 300, true},
		{"one open", "job 1/2", []string{"b"}, 2, 200, false},
		{"no logs", "never-ran", nil, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(t.TempDir(), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			other := writeLog(t, s, "other-job", "a", 100, time.Now())
			var paths []string
			if tt.job != "never-ran" {
				for _, task := range []string{"a", "b", "c.run2"} {
					paths = append(paths, writeLog(t, s, tt.job, task, 100, time.Now()))
				}
			}
			for _, task := range tt.open {
				w, err := s.Writer(tt.job, task)
				if err != nil {
					t.Fatal(err)
				}
				defer w.Close()
			}
			removed, bytes, err := s.RemoveJob(tt.job)
			if err != nil {
				t.Fatal(err)
			}
			if removed != tt.removed || bytes != tt.bytes {
				t.Errorf("RemoveJob = %d files, %d bytes; want %d, %d", removed, bytes, tt.removed, tt.bytes)
			}
			jobDir, _ := s.Path(tt.job, "x")
			if gone := !exists(filepath.Dir(jobDir)); gone != tt.dirGone {
				t.Errorf("job folder gone = %v, want %v", gone, tt.dirGone)
			}
			for _, task := range tt.open {
				if p, _ := s.Path(tt.job, task); !exists(p) {
					t.Errorf("open log %s was removed", p)
				}
			}
			if !exists(other) {
				t.Error("another job's log was removed")
			}
			if n, _, err := s.RemoveJob(tt.job); err != nil || n != 0 {
				t.Errorf("second RemoveJob = %d, %v", n, err)
			}
		})
	}
	s, err := Open(t.TempDir(), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.RemoveJob(""); err == nil {
		t.Error("RemoveJob(\"\") did not fail")
	}
}

func TestConcurrentAppends(t *testing.T) {
	s, err := Open(t.TempDir(), Limits{MaxTotalBytes: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for task := 0; task < 4; task++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, err := s.Writer("job", fmt.Sprint(task))
			if err != nil {
				t.Error(err)
				return
			}
			defer w.Close()
			for i := 0; i < 200; i++ {
				if err := w.Append([]string{"a", "b"}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for task := 0; task < 4; task++ {
		lines, err := s.Tail("job", fmt.Sprint(task), 1000)
		if err != nil || len(lines) != 400 {
			t.Errorf("task %d: %d lines, %v", task, len(lines), err)
		}
	}
}

func TestCloseEnforcesTheSizeCap(t *testing.T) {
	s, err := Open(t.TempDir(), Limits{MaxTotalBytes: 2000})
	if err != nil {
		t.Fatal(err)
	}
	old := writeLog(t, s, "job", "old", 1500, time.Now().Add(-time.Hour))
	if !exists(old) {
		t.Fatal("a log under the cap was pruned")
	}
	// Writing well past 1/64 of the cap makes Close prune: 2500 > 2000.
	newer := writeLog(t, s, "job", "newer", 1000, time.Now())
	if exists(old) || !exists(newer) {
		t.Errorf("after Close: old exists=%v, newer exists=%v; want the old one pruned", exists(old), exists(newer))
	}
}
