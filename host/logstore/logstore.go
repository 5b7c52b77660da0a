// Package logstore keeps the full, untruncated log of every task on the
// worker's disk, one append-only file per task, with a cap on the total size
// and on the age of the stored logs.
//
// The log limiter (host/loglimit) bounds what a Manager receives; this store is
// where the whole log stays, so a task that printed gigabytes can still be
// read on the render node. The local job queue and the Flamenco worker both
// write here.
//
// # Layout
//
// A task's log is <dir>/<job>/<task>.log. Job and task ids are used as file
// names after escaping: letters, digits, '.', '_' and '-' are kept, every
// other byte becomes %XX (so a UUID is its own file name and a task name like
// "render 1/3" cannot leave the folder). Lines are written with a '\n' each.
//
// # Pruning
//
// Prune deletes logs whose last write is older than Limits.MaxAge, then the
// oldest logs until the total size is at most Limits.MaxTotalBytes. Logs that
// a TaskLog of this Store has open are never deleted (but count towards the
// total). Open prunes once, and every TaskLog.Close prunes again, so the caps
// hold as long as tasks end; a caller that keeps one task running for days
// may also call Prune on a timer. Another process writing to the same folder
// is not known to the Store: give each process its own folder. RemoveJob
// deletes one job's logs at once, for a queue that forgets the job.
package logstore

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Limits caps what the store keeps. Zero values mean no cap.
type Limits struct {
	// MaxTotalBytes caps the size of all stored logs together.
	MaxTotalBytes int64
	// MaxAge removes logs not written to for longer than this.
	MaxAge time.Duration
}

// logExt ends every log file name.
const logExt = ".log"

// Store is a folder of task logs. Its methods are safe for concurrent use.
type Store struct {
	dir    string
	limits Limits

	mu        sync.Mutex
	open      map[string]int // path -> number of open TaskLogs writing it
	written   int64          // bytes appended since the last prune
	lastPrune time.Time
}

// pruneEvery is the longest time between two prunes that TaskLog.Close
// makes; pruneSlack is the share of MaxTotalBytes written since the last
// prune that makes Close prune sooner.
const (
	pruneEvery = time.Minute
	pruneSlack = 64
)

// Open opens (creating when missing) the log folder dir and prunes it to
// limits.
func Open(dir string, limits Limits) (*Store, error) {
	if dir == "" {
		return nil, errors.New("task log store: no folder given")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("task log store: create folder %s: %w", dir, err)
	}
	s := &Store{dir: dir, limits: limits, open: map[string]int{}}
	if _, err := s.Prune(); err != nil {
		return nil, err
	}
	return s, nil
}

// Dir is the store's folder.
func (s *Store) Dir() string { return s.dir }

// Path returns the file that holds the log of a task, whether it exists or not.
func (s *Store) Path(jobID, taskID string) (string, error) {
	if jobID == "" || taskID == "" {
		return "", fmt.Errorf("task log store: empty id (job %q, task %q)", jobID, taskID)
	}
	return filepath.Join(s.dir, escapeName(jobID), escapeName(taskID)+logExt), nil
}

// Writer opens the log of a task for appending, creating it when missing. A
// task that runs again (after a crash, or a recurring job's next run)
// appends to the same file. Close the TaskLog when the task ends.
func (s *Store) Writer(jobID, taskID string) (*TaskLog, error) {
	path, err := s.Path(jobID, taskID)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("task log store: create folder for %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("task log store: open %s: %w", path, err)
	}
	s.mu.Lock()
	s.open[path]++
	s.mu.Unlock()
	return &TaskLog{store: s, path: path, f: f}, nil
}

// Read opens the stored log of a task. The error wraps fs.ErrNotExist when
// the task has no log (it never ran, or its log was pruned).
func (s *Store) Read(jobID, taskID string) (io.ReadCloser, error) {
	path, err := s.Path(jobID, taskID)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("task log store: %w", err)
	}
	return f, nil
}

// Tail returns the last n lines of a task's stored log (fewer when it has
// fewer). A task without a log has no lines and no error.
func (s *Store) Tail(jobID, taskID string, n int) ([]string, error) {
	path, err := s.Path(jobID, taskID)
	if err != nil {
		return nil, err
	}
	lines, err := TailFile(path, n)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return lines, err
}

// PruneResult says what one Prune removed and what is left.
type PruneResult struct {
	// Removed is the number of log files deleted.
	Removed int
	// RemovedBytes is their total size.
	RemovedBytes int64
	// KeptBytes is the size of the logs left.
	KeptBytes int64
}

// Prune applies the limits: first it deletes logs older than MaxAge, then the
// oldest logs (by last write) until the total is at most MaxTotalBytes. Logs
// open for writing in this Store are kept. Empty job folders are removed.
func (s *Store) Prune() (PruneResult, error) {
	var res PruneResult
	type logFile struct {
		path string
		size int64
		mod  time.Time
	}
	var files []logFile
	err := filepath.WalkDir(s.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // deleted while we walk
			}
			return err
		}
		if d.IsDir() || !strings.HasSuffix(d.Name(), logExt) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		files = append(files, logFile{path: path, size: info.Size(), mod: info.ModTime()})
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("task log store: list %s: %w", s.dir, err)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].mod.Before(files[j].mod) })
	var total int64
	for _, f := range files {
		total += f.size
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.written, s.lastPrune = 0, time.Now()
	cutoff := time.Time{}
	if s.limits.MaxAge > 0 {
		cutoff = time.Now().Add(-s.limits.MaxAge)
	}
	var errs []error
	dirs := map[string]bool{}
	for _, f := range files {
		tooOld := !cutoff.IsZero() && f.mod.Before(cutoff)
		tooBig := s.limits.MaxTotalBytes > 0 && total > s.limits.MaxTotalBytes
		if !tooOld && !tooBig {
			continue
		}
		if s.open[f.path] > 0 {
			continue
		}
		if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		total -= f.size
		res.Removed++
		res.RemovedBytes += f.size
		dirs[filepath.Dir(f.path)] = true
	}
	for dir := range dirs {
		if dir != s.dir {
			_ = os.Remove(dir) // fails, as it should, while other logs are in it
		}
	}
	res.KeptBytes = total
	if len(errs) > 0 {
		return res, fmt.Errorf("task log store: prune %s: %w", s.dir, errors.Join(errs...))
	}
	return res, nil
}

// RemoveJob deletes every stored log of one job, and the job's folder, for a
// job its queue no longer has. Logs that a TaskLog of this Store has open are
// kept. A job without logs is not an error. It returns how many log files it
// deleted and their total size.
func (s *Store) RemoveJob(jobID string) (removed int, removedBytes int64, err error) {
	if jobID == "" {
		return 0, 0, errors.New("task log store: remove logs: empty job id")
	}
	dir := filepath.Join(s.dir, escapeName(jobID))
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("task log store: remove the logs of job %q: %w", jobID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		if e.IsDir() || !strings.HasSuffix(e.Name(), logExt) || s.open[path] > 0 {
			continue
		}
		var size int64
		if info, err := e.Info(); err == nil {
			size = info.Size()
		}
		if err := os.Remove(path); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
			continue
		}
		removed++
		removedBytes += size
	}
	_ = os.Remove(dir) // fails, as it should, while an open log or another file is in it
	if len(errs) > 0 {
		return removed, removedBytes, fmt.Errorf("task log store: remove the logs of job %q: %w", jobID, errors.Join(errs...))
	}
	return removed, removedBytes, nil
}

// release forgets an open TaskLog and reports whether a prune is due.
func (s *Store) release(path string) (pruneDue bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.open[path]--; s.open[path] <= 0 {
		delete(s.open, path)
	}
	if s.limits.MaxTotalBytes <= 0 && s.limits.MaxAge <= 0 {
		return false
	}
	return time.Since(s.lastPrune) >= pruneEvery ||
		(s.limits.MaxTotalBytes > 0 && s.written >= max(s.limits.MaxTotalBytes/pruneSlack, 1))
}

func (s *Store) wrote(n int) {
	s.mu.Lock()
	s.written += int64(n)
	s.mu.Unlock()
}

// TaskLog appends to one task's log. It is safe for concurrent use.
type TaskLog struct {
	store *Store
	path  string

	mu     sync.Mutex
	f      *os.File
	buf    []byte
	closed bool
}

// Path is the log's file, for messages such as loglimit.Marker.
func (t *TaskLog) Path() string { return t.path }

// Append writes lines, each followed by '\n', in one write.
func (t *TaskLog) Append(lines []string) error {
	if len(lines) == 0 {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return fmt.Errorf("task log %s: append after close", t.path)
	}
	t.buf = t.buf[:0]
	for _, l := range lines {
		t.buf = append(t.buf, l...)
		t.buf = append(t.buf, '\n')
	}
	n, err := t.f.Write(t.buf)
	t.store.wrote(n)
	if err != nil {
		return fmt.Errorf("task log %s: %w", t.path, err)
	}
	if cap(t.buf) > 1<<20 {
		t.buf = nil // do not keep a flood's buffer for the rest of the task
	}
	return nil
}

// Tail returns the last n lines written to the log (also those of earlier
// writers of the same task).
func (t *TaskLog) Tail(n int) ([]string, error) {
	return TailFile(t.path, n)
}

// Close closes the file and prunes the store when a prune is due (see the
// package documentation). Calling it again does nothing.
func (t *TaskLog) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	err := t.f.Close()
	t.mu.Unlock()
	pruneDue := t.store.release(t.path)
	if err != nil {
		return fmt.Errorf("task log %s: %w", t.path, err)
	}
	if pruneDue {
		_, err = t.store.Prune()
	}
	return err
}

// TailFile returns the last n lines of a text file, reading it from the end.
// A last line without a newline counts as a line.
func TailFile(path string, n int) ([]string, error) {
	if n <= 0 {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	const chunk = 64 << 10
	end := info.Size()
	var data []byte
	for end > 0 {
		size := int64(chunk)
		if end < size {
			size = end
		}
		end -= size
		buf := make([]byte, size)
		if _, err := f.ReadAt(buf, end); err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		data = append(buf, data...)
		// n lines need n newlines before them, plus possibly the final one.
		if bytes.Count(data, []byte{'\n'}) > n {
			break
		}
	}
	data = bytes.TrimSuffix(data, []byte{'\n'})
	if len(data) == 0 {
		return nil, nil
	}
	// When the loop stopped early, the first part is cut, but there are more
	// than n parts, so it is dropped here.
	parts := strings.Split(string(data), "\n")
	if len(parts) > n {
		parts = parts[len(parts)-n:]
	}
	return parts, nil
}

// escapeName makes an id safe as one file name on every OS: it keeps ASCII
// letters, digits, '.', '_' and '-' and writes every other byte as %XX. A
// leading or trailing dot is escaped too (no ".", "..", hidden files, or names
// Windows trims), and so is the first letter of a name Windows reserves for a
// device (CON, NUL, COM1...).
func escapeName(id string) string {
	var b strings.Builder
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c == '.' && (i == 0 || i == len(id)-1):
			b.WriteString("%2E")
		case i == 0 && reservedOnWindows(id):
			fmt.Fprintf(&b, "%%%02X", c)
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// reservedOnWindows reports whether a file name is a Windows device name
// (with or without an extension), which Windows does not let us create.
func reservedOnWindows(name string) bool {
	base, _, _ := strings.Cut(strings.ToUpper(name), ".")
	switch base {
	case "CON", "PRN", "AUX", "NUL":
		return true
	}
	if len(base) == 4 && (strings.HasPrefix(base, "COM") || strings.HasPrefix(base, "LPT")) && base[3] >= '0' && base[3] <= '9' {
		return true
	}
	return false
}
