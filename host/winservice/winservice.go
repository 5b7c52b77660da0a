// Package winservice runs cajon as a Windows service: it installs and
// removes the service with its recovery actions, starts, stops and queries
// it, and runs the worker under the service manager, where a service stop
// is the same clean shutdown as SIGTERM elsewhere. On other systems every
// call fails with ErrWindowsOnly (Linux has the systemd unit).
package winservice

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// DefaultName is the service's name when none is given.
const DefaultName = "cajon"

// DefaultRestartExitCode is the service's restart_exit_code unless the
// install says otherwise: the systemd unit's (examples/cajon-worker.service).
const DefaultRestartExitCode = 47

// ErrWindowsOnly is what every call answers on other systems.
var ErrWindowsOnly = errors.New("cajon service is for Windows; on Linux run cajon as a systemd service with examples/cajon-worker.service (docs/MANAGER.md, \"Running as a service\")")

// Recovery: how the service manager restarts a worker that ended with a
// non-zero exit code (the Manager asked for a restart, restart_exit_code)
// or crashed.
const (
	// restartDelay is the pause before each restart, as the systemd unit's
	// RestartSec.
	restartDelay = 5 * time.Second
	// restartResetPeriod is how long the service must run before its
	// failure count starts again from the first action.
	restartResetPeriod = 24 * time.Hour
	// restartActions is how many restart actions there are: after the
	// last one the service manager repeats it for every later failure.
	restartActions = 3
)

// errorServiceNeverStarted is the exit code Windows reports for a service
// that has not run since it was installed (ERROR_SERVICE_NEVER_STARTED).
const errorServiceNeverStarted = 1077

// stopWaitHint is how long the service tells the service manager each step
// of a stop may take; the worker reports progress at this rhythm until it
// has signed off.
const stopWaitHint = 10 * time.Second

// Install describes a service to install.
type Install struct {
	// Name is the service's name (sc query NAME); DisplayName is shown in
	// services.msc.
	Name, DisplayName string
	// Exe is the absolute path of cajon.exe.
	Exe string
	// Log is the file the worker's log goes to (a service has no console).
	Log string
	// RunArgs are the arguments of `cajon run` in the service, e.g.
	// --config C:\ProgramData\cajon\cajon.toml --restart-exit-code 47.
	RunArgs []string
	// User and Password are the account the service runs as; "" is
	// LocalSystem.
	User, Password string
}

// ServiceArgs are the arguments the service manager starts Exe with:
// `cajon service run NAME --log FILE -- <run args>`.
func (in Install) ServiceArgs() []string {
	args := []string{"service", "run", "--log", in.Log, in.Name, "--"}
	return append(args, in.RunArgs...)
}

// Status is what the service manager says about a service.
type Status struct {
	// State is "running", "stopped", "start pending"...
	State string
	// PID is the service's process while it runs.
	PID uint32
	// ExitCode is the exit code of its last run, once stopped: cajon's own
	// exit code (restart_exit_code after a restart the Manager asked for).
	ExitCode uint32
	// Command is the command line the service manager starts.
	Command string
	// StartType is "automatic", "manual" or "disabled".
	StartType string
}

func (s Status) String() string {
	out := s.State
	if s.PID != 0 {
		out += " (pid " + strconv.FormatUint(uint64(s.PID), 10) + ")"
	}
	if s.State == "stopped" && s.ExitCode != 0 && s.ExitCode != errorServiceNeverStarted {
		out += fmt.Sprintf(" (last exit code %d)", s.ExitCode)
	}
	return out
}
