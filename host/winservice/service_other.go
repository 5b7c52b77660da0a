//go:build !windows

package winservice

import (
	"context"
	"io"
)

// InstallService is Windows only.
func InstallService(Install) ([]string, error) { return nil, ErrWindowsOnly }

// UninstallService is Windows only.
func UninstallService(string) error { return ErrWindowsOnly }

// StartService is Windows only.
func StartService(string) error { return ErrWindowsOnly }

// StopService is Windows only.
func StopService(string) error { return ErrWindowsOnly }

// QueryService is Windows only.
func QueryService(string) (Status, error) { return Status{}, ErrWindowsOnly }

// Run is Windows only.
func Run(string, string, func(context.Context, io.Writer) int) error { return ErrWindowsOnly }
