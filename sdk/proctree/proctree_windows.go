package proctree

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sort"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Start starts cmd, an *exec.Cmd prepared by the caller and not yet started,
// contained: in a new Job Object with JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE (so
// the whole group dies when this process does), in a new console process group
// (so CTRL_BREAK can be sent to it), and with CAJON_RUN_ID=<opts.Tag> in its
// environment. The process is created suspended, assigned to the job and only
// then resumed, so not even its first instruction runs outside the job.
// The caller must call Group.Wait (not cmd.Wait), and Terminate when the group
// is no longer needed: that closes the job.
func Start(cmd *exec.Cmd, opts Options) (*Group, error) {
	if cmd.Process != nil {
		return nil, fmt.Errorf("start %s: command already started", cmd.Path)
	}
	cmd.Env = taggedEnv(cmd.Environ(), opts.Tag)
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.CreationFlags |= windows.CREATE_SUSPENDED | windows.CREATE_NEW_PROCESS_GROUP

	job, err := newKillOnCloseJob()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	if err := cmd.Start(); err != nil {
		windows.CloseHandle(job)
		return nil, err
	}
	pid := cmd.Process.Pid
	if err := assignAndResume(job, pid); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		windows.CloseHandle(job)
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	g := &Group{cmd: cmd, pid: pid, tag: opts.Tag, waitDone: make(chan struct{})}
	g.sys = groupSys{job: job, pid: pid}
	return g, nil
}

func newKillOnCloseJob() (windows.Handle, error) {
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return 0, fmt.Errorf("create job object: %w", err)
	}
	var info windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION
	info.BasicLimitInformation.LimitFlags = windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
	if _, err := windows.SetInformationJobObject(job, windows.JobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info))); err != nil {
		windows.CloseHandle(job)
		return 0, fmt.Errorf("set job object kill-on-close limit: %w", err)
	}
	return job, nil
}

// assignAndResume puts the suspended process pid into job, then resumes its
// threads (found with a Toolhelp32 thread snapshot: exec.Cmd does not keep the
// main thread's handle).
func assignAndResume(job windows.Handle, pid int) error {
	h, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE, false, uint32(pid))
	if err != nil {
		return fmt.Errorf("open process %d: %w", pid, err)
	}
	err = windows.AssignProcessToJobObject(job, h)
	windows.CloseHandle(h)
	if err != nil {
		return fmt.Errorf("assign process %d to its job object: %w", pid, err)
	}
	snap, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPTHREAD, 0)
	if err != nil {
		return fmt.Errorf("snapshot threads of process %d: %w", pid, err)
	}
	defer windows.CloseHandle(snap)
	var te windows.ThreadEntry32
	te.Size = uint32(unsafe.Sizeof(te))
	resumed := 0
	for err = windows.Thread32First(snap, &te); err == nil; err = windows.Thread32Next(snap, &te) {
		if te.OwnerProcessID != uint32(pid) {
			continue
		}
		th, err := windows.OpenThread(windows.THREAD_SUSPEND_RESUME, false, te.ThreadID)
		if err != nil {
			return fmt.Errorf("open thread %d of process %d: %w", te.ThreadID, pid, err)
		}
		_, err = windows.ResumeThread(th)
		windows.CloseHandle(th)
		if err != nil {
			return fmt.Errorf("resume thread %d of process %d: %w", te.ThreadID, pid, err)
		}
		resumed++
	}
	if resumed == 0 {
		return fmt.Errorf("resume process %d: no thread found", pid)
	}
	return nil
}

// groupSys is the Windows side of a Group: its Job Object.
type groupSys struct {
	mu    sync.Mutex
	job   windows.Handle // 0 once closed
	pid   int
	asked bool
	// failed: CTRL_BREAK could not be sent, so nothing in the group knows
	// it should stop (no console: a service; wine, which sends only
	// CTRL_C_EVENT).
	failed bool
}

// jobProcessIDList is JOBOBJECT_BASIC_PROCESS_ID_LIST with room for n pids.
type jobProcessIDList struct {
	assigned uint32
	inList   uint32
	pids     [1]uintptr
}

func (gs *groupSys) sweep() ([]procKey, error) {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	if gs.job == 0 {
		return nil, nil
	}
	for n := 64; ; n *= 4 {
		buf := make([]byte, 8+n*int(unsafe.Sizeof(uintptr(0))))
		err := windows.QueryInformationJobObject(gs.job, windows.JobObjectBasicProcessIdList,
			uintptr(unsafe.Pointer(&buf[0])), uint32(len(buf)), nil)
		if errors.Is(err, windows.ERROR_MORE_DATA) && n < 1<<16 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list processes of job object: %w", err)
		}
		list := (*jobProcessIDList)(unsafe.Pointer(&buf[0]))
		pids := unsafe.Slice(&list.pids[0], list.inList)
		keys := make([]procKey, len(pids))
		for i, p := range pids {
			keys[i] = procKey{pid: int(p)}
		}
		return keys, nil
	}
}

// ask sends CTRL_BREAK to the console process group of the leader (the only
// polite stop Windows offers console programs; it reaches processes sharing
// our console). It is sent once: a second CTRL_BREAK may cut a clean
// shutdown short.
func (gs *groupSys) ask([]procKey) {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	if !gs.asked {
		gs.asked = true
		gs.failed = windows.GenerateConsoleCtrlEvent(windows.CTRL_BREAK_EVENT, uint32(gs.pid)) != nil
	}
}

// unasked reports that the polite stop could not be sent: waiting out the
// grace would only delay the kill.
func (gs *groupSys) unasked() bool {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	return gs.failed
}

func (gs *groupSys) kill([]procKey) {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	if gs.job != 0 {
		_ = windows.TerminateJobObject(gs.job, 1)
	}
}

// release closes the job; KILL_ON_JOB_CLOSE takes anything left with it.
func (gs *groupSys) release() {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	if gs.job != 0 {
		windows.CloseHandle(gs.job)
		gs.job = 0
	}
}

// SetSubreaper does nothing on Windows: there is no reparenting to follow,
// the Job Object holds the group.
func SetSubreaper() error { return nil }

// processParents returns a map from pid to parent pid from a Toolhelp32
// process snapshot.
func processParents() (map[uint32]uint32, error) {
	snap, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPPROCESS, 0)
	if err != nil {
		return nil, fmt.Errorf("snapshot processes: %w", err)
	}
	defer windows.CloseHandle(snap)
	parents := make(map[uint32]uint32)
	var pe windows.ProcessEntry32
	pe.Size = uint32(unsafe.Sizeof(pe))
	for err = windows.Process32First(snap, &pe); err == nil; err = windows.Process32Next(snap, &pe) {
		parents[pe.ProcessID] = pe.ParentProcessID
	}
	return parents, nil
}

// Descendants returns the pids of all live descendants of pid, sorted.
// Windows keeps a dead parent's pid in its children's entries, so children of
// an exited process are still found, as long as that pid is not reused.
func Descendants(pid int) ([]int, error) {
	parents, err := processParents()
	if err != nil {
		return nil, err
	}
	return descendantsIn(parents, uint32(pid)), nil
}

func descendantsIn(parents map[uint32]uint32, root uint32) []int {
	children := make(map[uint32][]uint32, len(parents))
	for p, pp := range parents {
		if p != pp {
			children[pp] = append(children[pp], p)
		}
	}
	var out []int
	visited := map[uint32]bool{root: true}
	stack := append([]uint32(nil), children[root]...)
	for len(stack) > 0 {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if visited[p] {
			continue // pid reuse can make cycles
		}
		visited[p] = true
		out = append(out, int(p))
		stack = append(stack, children[p]...)
	}
	sort.Ints(out)
	return out
}

// KillTree terminates pid and all its descendants, sweeping again until none
// is left. It gives up when ctx is done or after a few seconds, returning an
// error that lists the survivors.
func KillTree(ctx context.Context, pid int) error {
	targets := map[int]bool{}
	deadline := time.Now().Add(KillTimeout)
	delay := newPollDelay()
	for {
		parents, err := processParents()
		if err != nil {
			return fmt.Errorf("kill process tree of pid %d: %w", pid, err)
		}
		if _, ok := parents[uint32(pid)]; ok {
			targets[pid] = true
		}
		for _, d := range descendantsIn(parents, uint32(pid)) {
			targets[d] = true
		}
		var live []int
		for p := range targets {
			if _, ok := parents[uint32(p)]; ok {
				live = append(live, p)
			} else {
				delete(targets, p)
			}
		}
		if len(live) == 0 {
			return nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			sort.Ints(live)
			return fmt.Errorf("kill process tree of pid %d: processes %s survived TerminateProcess", pid, formatPids(live))
		}
		for _, p := range live {
			if h, err := windows.OpenProcess(windows.PROCESS_TERMINATE, false, uint32(p)); err == nil {
				_ = windows.TerminateProcess(h, 1)
				windows.CloseHandle(h)
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(delay.next()):
		}
	}
}

// Reaper does nothing on Windows, which has no zombies to reap.
type Reaper struct{}

// NewReaper returns a Reaper.
func NewReaper() *Reaper { return &Reaper{} }

// Reap does nothing on Windows and returns no pids.
func (r *Reaper) Reap(owned func(pid int) bool) ([]int, error) { return nil, nil }
