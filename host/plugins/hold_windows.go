package plugins

import (
	"fmt"
	"sync"
	"unsafe"

	"golang.org/x/sys/windows"
)

// pluginHold ties a plugin and every process it starts to the host: a Job
// Object with KILL_ON_JOB_CLOSE whose only handle the host holds. When the
// host exits, even by `taskkill /F` or a crash, Windows closes the handle and
// kills every process of the job at once. The plugin's commands run in Job
// Objects of their own (sdk/proctree), nested in this one, so they go too.
// The lifeline tells a plugin to stop cleanly; the job is what makes sure it
// is gone, whatever the plugin does.
type pluginHold struct {
	job    windows.Handle
	closed sync.Once // a handle closed twice could close another's
}

// holdPlugin puts the running process pid into a new kill-on-close job. The
// plugin is assigned after it started: until its handshake is read it runs
// no command, so no process of its own can start outside the job.
func holdPlugin(pid int) (*pluginHold, error) {
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return nil, fmt.Errorf("creating a Job Object: %w", err)
	}
	var info windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION
	info.BasicLimitInformation.LimitFlags = windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
	if _, err := windows.SetInformationJobObject(job, windows.JobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info))); err != nil {
		windows.CloseHandle(job)
		return nil, fmt.Errorf("setting kill-on-close on a Job Object: %w", err)
	}
	proc, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE, false, uint32(pid))
	if err != nil {
		windows.CloseHandle(job)
		return nil, fmt.Errorf("opening process %d: %w", pid, err)
	}
	err = windows.AssignProcessToJobObject(job, proc)
	windows.CloseHandle(proc)
	if err != nil {
		windows.CloseHandle(job)
		return nil, fmt.Errorf("assigning process %d to a Job Object (nested jobs need Windows 8 or later): %w", pid, err)
	}
	return &pluginHold{job: job}, nil
}

// kill ends the plugin and every process of its job now, and releases it.
func (h *pluginHold) kill() {
	if h != nil {
		h.closed.Do(func() {
			_ = windows.TerminateJobObject(h.job, 1)
			windows.CloseHandle(h.job)
		})
	}
}

// release closes the job: whatever is still in it is killed.
func (h *pluginHold) release() {
	if h != nil {
		h.closed.Do(func() { windows.CloseHandle(h.job) })
	}
}
