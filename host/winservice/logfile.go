package winservice

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// maxLogBytes is where the service's log file is rotated: the full file is
// kept as <log>.1 (replacing the previous one) and a new one started, so a
// worker that runs for months keeps at most twice this on disk.
const maxLogBytes = 64 << 20

// logFile is an append-only log that rotates itself at a size. It is safe
// for concurrent use (the worker logs from many goroutines).
type logFile struct {
	path string
	max  int64

	mu   sync.Mutex
	f    *os.File
	size int64
}

// openLog opens (or creates, with its folder) the log at path.
func openLog(path string, max int64) (*logFile, error) {
	l := &logFile{path: path, max: max}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("creating the folder of the service log %s: %w", path, err)
	}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *logFile) open() error {
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("opening the service log: %w", err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("opening the service log: %w", err)
	}
	l.f, l.size = f, info.Size()
	return nil
}

// Write appends p, first rotating when p would take the file past its size.
func (l *logFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return 0, os.ErrClosed
	}
	if l.size > 0 && l.size+int64(len(p)) > l.max {
		l.f.Close()
		l.f = nil
		// A failed rename (the old file held open by a viewer) keeps
		// appending to the same file rather than losing lines.
		_ = os.Rename(l.path, l.path+".1")
		if err := l.open(); err != nil {
			return 0, err
		}
	}
	n, err := l.f.Write(p)
	l.size += int64(n)
	return n, err
}

// Close closes the file.
func (l *logFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
