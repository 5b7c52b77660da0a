package sdk

import pluginv1 "github.com/cajonfarm/cajon/sdk/proto/cajon/plugin/v1"

// UsesProcess reports pid as one of this run's processes although Exec did
// not start it for this run: a long-lived helper that the plugin keeps
// between runs (a warm application session) and that works for this run now.
// The host lists it among the task's processes until the returned function is
// called. Containing such a process is the plugin's job.
func (r *Run) UsesProcess(pid int) (done func()) {
	r.out.event(&pluginv1.RunEvent{Event: &pluginv1.RunEvent_Child{Child: &pluginv1.ChildProcess{Pid: int64(pid)}}})
	return func() {
		r.out.event(&pluginv1.RunEvent{Event: &pluginv1.RunEvent_Child{Child: &pluginv1.ChildProcess{Pid: int64(pid), Exited: true}}})
	}
}
