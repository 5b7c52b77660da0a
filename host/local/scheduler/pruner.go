package scheduler

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/cajonfarm/cajon/host/local/jobstore"
	"github.com/cajonfarm/cajon/host/logstore"
)

// This file holds retention: removing finished jobs from the store together
// with the files the Runner kept for them.

// Pruner removes finished jobs from a Store together with their full task
// logs and kept previews.
type Pruner struct {
	Store *jobstore.Store
	// Logs holds the jobs' full task logs; nil leaves logs alone.
	Logs *logstore.Store
	// PreviewDir holds the tasks' kept previews (Runner.PreviewDir); ""
	// leaves previews alone.
	PreviewDir string
}

// Prune deletes the finished jobs whose last run ended before `before` (see
// Store.DeleteFinished), then their logs and previews. The jobs are gone from
// the store even when a file cannot be removed: the error names the files,
// and the log store's own caps remove forgotten logs in time.
func (p Pruner) Prune(ctx context.Context, before time.Time) (jobstore.Pruned, error) {
	res, err := p.Store.DeleteFinished(ctx, before)
	if err != nil {
		return res, err
	}
	var errs []error
	if p.Logs != nil {
		for _, id := range res.Jobs {
			n, size, err := p.Logs.RemoveJob(logJobKey(id))
			res.LogFiles += n
			res.LogBytes += size
			if err != nil {
				errs = append(errs, err)
			}
		}
	}
	if p.PreviewDir != "" {
		for _, id := range res.Tasks {
			err := os.Remove(previewPath(p.PreviewDir, id))
			switch {
			case err == nil:
				res.Previews++
			case !errors.Is(err, fs.ErrNotExist):
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return res, fmt.Errorf("local queue: removed %d finished jobs, but not all their files: %w", len(res.Jobs), errors.Join(errs...))
	}
	return res, nil
}
