package worker

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"os"
	"sync"
	"time"

	"github.com/cajonfarm/cajon/host/backoff"

	"github.com/cajonfarm/cajon/host/flamenco"
)

// maxPreviewBytes is the largest image the Manager accepts.
const maxPreviewBytes = 25 << 20

// lastPreviewWait bounds how long the end of a task waits for the last
// preview upload.
const lastPreviewWait = 5 * time.Second

// previewUploader sends a task's preview images with output-produced. The
// latest image wins: one upload is in flight at a time, and an image that
// was superseded while waiting is never sent. A 429 (the Manager's thumbnail
// queue is full) backs off before the next upload. Every preview file is
// deleted once it was sent, skipped or superseded: the plugin leaves them to
// the host.
type previewUploader struct {
	w      *Worker
	taskID string
	ctx    context.Context
	cancel context.CancelFunc
	wake   chan struct{}
	done   chan struct{}

	mu                sync.Mutex
	path, mime        string // the latest image not yet sent; "" for none
	started, stopping bool
}

func newPreviewUploader(w *Worker, taskID string) *previewUploader {
	ctx, cancel := context.WithCancel(context.Background())
	return &previewUploader{w: w, taskID: taskID, ctx: ctx, cancel: cancel, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// offer makes path the next image to send.
func (p *previewUploader) offer(path, mimeType string) {
	p.mu.Lock()
	if p.stopping {
		p.mu.Unlock()
		p.discard(path)
		return
	}
	superseded := p.path
	p.path, p.mime = path, mimeType
	if !p.started {
		p.started = true
		go p.loop()
	}
	p.mu.Unlock()
	if superseded != "" {
		p.discard(superseded)
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// discard deletes a preview file that was dealt with.
func (p *previewUploader) discard(path string) {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		p.w.log.Debug("removing a preview image", "file", path, "error", err)
	}
}

// stop ends the uploads at the end of the task, after sending the latest
// image if one waits (bounded by lastPreviewWait), and deletes what is left.
func (p *previewUploader) stop() {
	p.mu.Lock()
	p.stopping = true
	started := p.started
	p.mu.Unlock()
	if started {
		select {
		case p.wake <- struct{}{}:
		default:
		}
		t := time.AfterFunc(lastPreviewWait, p.cancel)
		<-p.done
		t.Stop()
	}
	p.cancel()
	p.mu.Lock()
	left := p.path
	p.path = ""
	p.mu.Unlock()
	if left != "" {
		p.discard(left)
	}
}

func (p *previewUploader) loop() {
	defer close(p.done)
	retry := backoff.Backoff{Min: time.Second, Max: p.w.tm.PreviewBackoffMax, Jitter: 0.2}
	for {
		p.mu.Lock()
		path, mimeType, stopping := p.path, p.mime, p.stopping
		p.path = ""
		p.mu.Unlock()
		if path == "" {
			if stopping {
				return
			}
			select {
			case <-p.wake:
				continue
			case <-p.ctx.Done():
				return
			}
		}
		err := p.upload(path, mimeType)
		if flamenco.KindOf(err) == flamenco.KindTooManyRequests {
			p.mu.Lock()
			keep := p.path == "" && !p.stopping // nothing newer came, and the task goes on
			if keep {
				p.path, p.mime = path, mimeType
			}
			p.mu.Unlock()
			if !keep {
				p.discard(path)
				continue
			}
			d := retry.NextAtLeast(flamenco.RetryAfterOf(err))
			p.w.log.Debug("the Manager's thumbnail queue is full; waiting before the next preview", "task", p.taskID, "retry_in", d)
			if !sleep(p.ctx, d) {
				return
			}
			continue
		}
		p.discard(path)
		retry.Reset()
		if err != nil && p.ctx.Err() == nil {
			p.w.log.Warn("sending a preview image to the Manager failed", "task", p.taskID, "file", path, "error", err)
		}
	}
}

func (p *previewUploader) upload(path, mimeType string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("preview image: %w", err)
	}
	if fi.Size() > maxPreviewBytes {
		return fmt.Errorf("preview image %s is %d bytes, more than the Manager accepts (%d)", path, fi.Size(), maxPreviewBytes)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("preview image: %w", err)
	}
	if len(data) == 0 {
		return fmt.Errorf("preview image %s is empty", path)
	}
	mt, _, _ := mime.ParseMediaType(mimeType)
	return p.w.client().OutputProduced(p.ctx, p.taskID, mt, data)
}
