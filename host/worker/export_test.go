package worker

import "github.com/cajonfarm/cajon/host/updates"

// Queue is the worker's update queue, for the benchmarks of package
// worker_test that fill it directly.
func (w *Worker) Queue() *updates.Queue { return w.queue }
