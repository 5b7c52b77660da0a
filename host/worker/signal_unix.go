//go:build unix

package worker

import (
	"os"
	"os/signal"
	"syscall"
)

// watchStatusSignal logs the worker's status on every SIGUSR1 until stop is
// called.
func (w *Worker) watchStatusSignal() (stop func()) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGUSR1)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-sigs:
				w.logStatus()
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
	}
}
