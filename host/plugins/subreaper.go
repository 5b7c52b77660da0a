package plugins

import (
	"context"
	"time"

	"github.com/cajonfarm/cajon/sdk/proctree"
	"github.com/hashicorp/go-hclog"
)

// reapInterval is how often the host reaps orphans that reparented to it.
const reapInterval = 3 * time.Second

// becomeSubreaper is the precondition of the crash sweep (Registry.killed,
// Registry.broken): when a plugin crashes, the processes of its commands
// must reparent to the host, not to init, so that the host still finds them
// by their run's tag among its descendants. It makes this process a child
// subreaper (Linux; elsewhere there is nothing to do) and reaps those
// orphans when they exit, so they do not linger as zombies, until stop is
// called. The subreaper flag itself stays for the life of the process.
func becomeSubreaper(log hclog.Logger) (stop func()) {
	if err := proctree.SetSubreaper(); err != nil {
		log.Warn("cannot become a subreaper: processes of a crashed plugin may escape the host's sweep", "error", err)
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	reaper := proctree.NewReaper()
	go func() {
		defer close(done)
		t := time.NewTicker(reapInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if _, err := reaper.Reap(nil); err != nil {
					log.Debug("reaping orphans", "error", err)
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}
