package winservice

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/eventlog"
	"golang.org/x/sys/windows/svc/mgr"
)

// ErrStopRequested is the cause of the worker's context when the service
// manager stops the service (a service stop, or Windows shutting down).
var ErrStopRequested = errors.New("the Windows service manager stops the service")

// How long the commands wait for the service to reach a state.
const (
	startTimeout = 30 * time.Second
	// stopTimeout covers a task's abort (kill_grace, 10 s by default),
	// delivering the queued updates and signing off.
	stopTimeout = 90 * time.Second
	pollEvery   = 200 * time.Millisecond
)

// Event IDs in the Application event log.
const (
	eventStarted = 1
	eventStopped = 2
	eventFailed  = 3
)

// connect opens the service manager.
func connect() (*mgr.Mgr, error) {
	m, err := mgr.Connect()
	if err != nil {
		return nil, fmt.Errorf("connecting to the Windows service manager (run this from an administrator's command prompt): %w", err)
	}
	return m, nil
}

// open opens the named service.
func open(m *mgr.Mgr, name string) (*mgr.Service, error) {
	s, err := m.OpenService(name)
	if err != nil {
		if errors.Is(err, windows.ERROR_SERVICE_DOES_NOT_EXIST) {
			return nil, fmt.Errorf("there is no service %s: install it with cajon service install", name)
		}
		return nil, fmt.Errorf("opening service %s: %w", name, err)
	}
	return s, nil
}

// withService opens the service manager and the named service for fn, and
// closes both after it.
func withService(name string, fn func(s *mgr.Service) error) error {
	m, err := connect()
	if err != nil {
		return err
	}
	defer m.Disconnect()
	s, err := open(m, name)
	if err != nil {
		return err
	}
	defer s.Close()
	return fn(s)
}

// InstallService creates the service, started at boot (the worker waits
// for the Manager by itself, so no delayed start is needed), with recovery actions that restart it when cajon
// exits with a non-zero code (restart_exit_code, when the Manager asks for
// a restart) or crashes, and an event log source of its name. The
// warnings say what the system could not set up.
func InstallService(in Install) ([]string, error) {
	m, err := connect()
	if err != nil {
		return nil, err
	}
	defer m.Disconnect()
	if s, err := m.OpenService(in.Name); err == nil {
		s.Close()
		return nil, fmt.Errorf("service %s already exists; remove it first with cajon service uninstall --name %s", in.Name, in.Name)
	}
	s, err := m.CreateService(in.Name, in.Exe, mgr.Config{
		DisplayName:      in.DisplayName,
		Description:      "Cajon render-farm worker for a Flamenco 3 Manager. Log: " + in.Log,
		StartType:        mgr.StartAutomatic,
		ErrorControl:     mgr.ErrorNormal,
		ServiceStartName: in.User,
		Password:         in.Password,
	}, in.ServiceArgs()...)
	if err != nil {
		return nil, fmt.Errorf("creating service %s: %w", in.Name, err)
	}
	defer s.Close()
	undo := func(err error) error {
		s.Delete()
		return err
	}
	actions := make([]mgr.RecoveryAction, restartActions)
	for i := range actions {
		actions[i] = mgr.RecoveryAction{Type: mgr.ServiceRestart, Delay: restartDelay}
	}
	if err := s.SetRecoveryActions(actions, uint32(restartResetPeriod/time.Second)); err != nil {
		return nil, undo(fmt.Errorf("setting the recovery actions of service %s: %w", in.Name, err))
	}
	// A clean exit with a non-zero code (restart_exit_code) counts as a
	// failure, so the actions above restart the service; exit 0 (the
	// Manager sent the worker offline, or a service stop) does not.
	var warnings []string
	switch err := s.SetRecoveryActionsOnNonCrashFailures(true); {
	case errors.Is(err, windows.ERROR_INVALID_LEVEL):
		// Windows has had this since Vista; wine 8 does not.
		warnings = append(warnings, "this system cannot make an exit code start the recovery actions (wine?): a restart the Manager asks for stops the service instead of restarting it")
	case err != nil:
		return nil, undo(fmt.Errorf("making the recovery actions of service %s apply to its exit codes: %w", in.Name, err))
	}
	_ = eventlog.Remove(in.Name) // a source left by an earlier install
	if err := eventlog.InstallAsEventCreate(in.Name, eventlog.Error|eventlog.Warning|eventlog.Info); err != nil {
		return nil, undo(fmt.Errorf("creating the event log source %s: %w", in.Name, err))
	}
	return warnings, nil
}

// UninstallService stops the service if it runs, then removes it and its
// event log source.
func UninstallService(name string) error {
	return withService(name, func(s *mgr.Service) error {
		if st, err := s.Query(); err == nil && st.State != svc.Stopped {
			if err := stop(s, name); err != nil {
				return err
			}
		}
		if err := s.Delete(); err != nil {
			return fmt.Errorf("removing service %s: %w", name, err)
		}
		_ = eventlog.Remove(name)
		return nil
	})
}

// StartService starts the service and waits until it runs. A service that
// stops again at once (a broken config) is an error with its exit code.
func StartService(name string) error {
	return withService(name, func(s *mgr.Service) error {
		if err := s.Start(); err != nil {
			return fmt.Errorf("starting service %s: %w", name, err)
		}
		st, err := waitWhile(s, svc.StartPending, startTimeout)
		if err != nil {
			return fmt.Errorf("starting service %s: %w", name, err)
		}
		if st.State != svc.Running {
			return fmt.Errorf("service %s did not start: it is %s with exit code %d; see its log and the Application event log", name, stateName(st.State), exitCode(st))
		}
		return nil
	})
}

// StopService stops the service: the worker aborts its task, delivers its
// updates and signs off, as on SIGTERM elsewhere.
func StopService(name string) error {
	return withService(name, func(s *mgr.Service) error { return stop(s, name) })
}

func stop(s *mgr.Service, name string) error {
	st, err := s.Control(svc.Stop)
	if err != nil && !errors.Is(err, windows.ERROR_SERVICE_NOT_ACTIVE) {
		return fmt.Errorf("stopping service %s: %w", name, err)
	}
	if err == nil && st.State == svc.Stopped {
		return nil
	}
	st, err = waitWhile(s, svc.StopPending, stopTimeout)
	if err != nil {
		return fmt.Errorf("stopping service %s: %w", name, err)
	}
	if st.State == svc.Running {
		// Control may answer before the state changes.
		if st, err = waitWhile(s, svc.Running, stopTimeout); err != nil {
			return fmt.Errorf("stopping service %s: %w", name, err)
		}
		if st.State == svc.StopPending {
			if st, err = waitWhile(s, svc.StopPending, stopTimeout); err != nil {
				return fmt.Errorf("stopping service %s: %w", name, err)
			}
		}
	}
	if st.State != svc.Stopped {
		return fmt.Errorf("service %s is %s, not stopped", name, stateName(st.State))
	}
	return nil
}

// QueryService says what state the service is in and how it is set up.
func QueryService(name string) (Status, error) {
	var out Status
	err := withService(name, func(s *mgr.Service) error {
		st, err := s.Query()
		if err != nil {
			return fmt.Errorf("querying service %s: %w", name, err)
		}
		out = Status{State: stateName(st.State), PID: st.ProcessId, ExitCode: exitCode(st)}
		if cfg, err := s.Config(); err == nil {
			out.Command = cfg.BinaryPathName
			out.StartType = startTypeName(cfg.StartType)
		}
		return nil
	})
	return out, err
}

// waitWhile polls the service while it is in state, up to timeout.
func waitWhile(s *mgr.Service, state svc.State, timeout time.Duration) (svc.Status, error) {
	deadline := time.Now().Add(timeout)
	for {
		st, err := s.Query()
		if err != nil {
			return st, err
		}
		if st.State != state {
			return st, nil
		}
		if time.Now().After(deadline) {
			return st, fmt.Errorf("still %s after %s", stateName(state), timeout)
		}
		time.Sleep(pollEvery)
	}
}

// exitCode is the exit code of a stopped service: cajon's own, or the
// Windows error the service manager saw.
func exitCode(st svc.Status) uint32 {
	if st.Win32ExitCode == uint32(windows.ERROR_SERVICE_SPECIFIC_ERROR) {
		return st.ServiceSpecificExitCode
	}
	return st.Win32ExitCode
}

func stateName(s svc.State) string {
	switch s {
	case svc.Stopped:
		return "stopped"
	case svc.StartPending:
		return "start pending"
	case svc.StopPending:
		return "stop pending"
	case svc.Running:
		return "running"
	case svc.ContinuePending:
		return "continue pending"
	case svc.PausePending:
		return "pause pending"
	case svc.Paused:
		return "paused"
	}
	return fmt.Sprintf("in state %d", s)
}

func startTypeName(t uint32) string {
	switch t {
	case mgr.StartAutomatic:
		return "automatic"
	case mgr.StartManual:
		return "manual"
	case mgr.StartDisabled:
		return "disabled"
	}
	return fmt.Sprintf("start type %d", t)
}

// Run runs work as the service name under the service manager, its output
// going to the log file logPath. work gets a context that a service stop
// (or Windows shutting down) cancels with ErrStopRequested, and returns the
// process's exit code, which becomes the service's: non-zero ones start the
// recovery actions. Run returns when the service has stopped.
func Run(name, logPath string, work func(ctx context.Context, out io.Writer) int) error {
	log, err := openLog(logPath, maxLogBytes)
	if err != nil {
		return err
	}
	defer log.Close()
	h := &handler{name: name, log: log, work: work}
	if events, err := eventlog.Open(name); err == nil {
		h.events = events
		defer events.Close()
	}
	if err := svc.Run(name, h); err != nil {
		if errors.Is(err, windows.ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) {
			return fmt.Errorf("cajon service run is started by the Windows service manager, not by hand; to run the worker in this console use cajon run")
		}
		return fmt.Errorf("running as service %s: %w", name, err)
	}
	return nil
}

// handler is the service's svc.Handler.
type handler struct {
	name   string
	log    io.Writer
	events *eventlog.Log // nil without an event log source
	work   func(ctx context.Context, out io.Writer) int
}

func (h *handler) Execute(_ []string, requests <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	status <- svc.Status{State: svc.StartPending}
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	done := make(chan int, 1)
	go func() { done <- h.work(ctx, h.log) }()
	status <- svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown}
	h.event(eventStarted, false, fmt.Sprintf("%s started; its log is in %s", h.name, logName(h.log)))

	// While the worker signs off, the service manager hears from it at the
	// rhythm it was promised, or it would take the service for hung.
	var progress <-chan time.Time
	var checkpoint uint32
	stopPending := func() {
		checkpoint++
		status <- svc.Status{State: svc.StopPending, CheckPoint: checkpoint, WaitHint: uint32(stopWaitHint / time.Millisecond)}
	}
	for {
		select {
		case code := <-done:
			if code != 0 {
				h.event(eventFailed, true, fmt.Sprintf("%s stopped with exit code %d; the recovery actions restart it", h.name, code))
				return true, uint32(code)
			}
			h.event(eventStopped, false, h.name+" stopped")
			return false, 0
		case <-progress:
			stopPending()
		case r := <-requests:
			switch r.Cmd {
			case svc.Interrogate:
				status <- r.CurrentStatus
			case svc.Stop, svc.Shutdown:
				if progress == nil {
					fmt.Fprintf(h.log, "cajon: service %s: %v: stopping cleanly\n", h.name, ErrStopRequested)
					cancel(ErrStopRequested)
					ticker := time.NewTicker(stopWaitHint / 2)
					defer ticker.Stop()
					progress = ticker.C
				}
				stopPending()
			}
		}
	}
}

// event writes to the event log, if the service has a source there.
func (h *handler) event(id uint32, isError bool, msg string) {
	if h.events == nil {
		return
	}
	if isError {
		_ = h.events.Error(id, msg)
		return
	}
	_ = h.events.Info(id, msg)
}

// logName is the file behind the service's log writer.
func logName(w io.Writer) string {
	if l, ok := w.(*logFile); ok {
		return l.path
	}
	return "(no file)"
}
