package worker

import (
	"sync"
)

// maxRememberedLogs bounds fullLogs: far more tasks than can have updates
// queued at once.
const maxRememberedLogs = 1000

// fullLogs remembers where the full logs of recent tasks are kept, for the
// note the update queue sends in place of a log the Manager refused.
type fullLogs struct {
	mu    sync.Mutex
	paths map[string]string // task id -> file
	order []string          // task ids, oldest first
	dir   string            // the log store's folder; "" when there is none
}

func newFullLogs(dir string) *fullLogs {
	return &fullLogs{paths: map[string]string{}, dir: dir}
}

// remember notes where a task's full log is; a nil f remembers nothing.
func (f *fullLogs) remember(taskID, path string) {
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.paths[taskID]; !ok {
		f.order = append(f.order, taskID)
	}
	f.paths[taskID] = path
	if len(f.order) > maxRememberedLogs {
		delete(f.paths, f.order[0])
		f.order = f.order[1:]
	}
}

// where says where the full log of a task is, or "" when no log store
// keeps it. A task of an earlier run is in the store under its job, which
// the queue does not know.
func (f *fullLogs) where(taskID string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.paths[taskID]; ok {
		return p
	}
	if f.dir == "" {
		return ""
	}
	return f.dir + " (<job>/" + taskID + ".log)"
}
