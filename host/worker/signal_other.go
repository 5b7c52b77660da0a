//go:build !unix

package worker

// watchStatusSignal does nothing where there is no SIGUSR1.
func (w *Worker) watchStatusSignal() (stop func()) { return func() {} }
