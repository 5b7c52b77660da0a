package main

import (
	"context"
	"runtime"

	"github.com/cajonfarm/cajon/host/config"
	"github.com/cajonfarm/cajon/host/workstation"
	"github.com/hashicorp/go-hclog"
)

// startWorkstation watches the machine for a person as [workstation] says,
// until ctx ends; nil (and a no-op stop) when workstation mode is off.
func startWorkstation(ctx context.Context, cfg *config.Config, log hclog.Logger) (*workstation.Watcher, func(), error) {
	wc := cfg.Workstation
	if !wc.Enabled() {
		return nil, func() {}, nil
	}
	if runtime.GOOS == "windows" && wc.SessionDir == "" {
		// A service cannot see the desktop's input (docs/PLATFORMS.md).
		log.Warn("on Windows, workstation mode needs workstation.session_dir and `cajon idle-helper` started at logon in the users' sessions; without them the machine counts as free")
	}
	var dets []workstation.Detector
	for _, d := range wc.X11Displays {
		dets = append(dets, workstation.NewX11(d))
	}
	if wc.Logind {
		dets = append(dets, workstation.NewLogind())
	}
	if wc.SessionDir != "" {
		dets = append(dets, workstation.NewSessions(wc.SessionDir))
	}
	ws, err := workstation.NewWatcher(workstation.Options{
		Detectors: dets, IdleBeforeWork: wc.IdleBeforeWork, Poll: wc.PollInterval, Logger: log.Named("workstation"),
	})
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); ws.Run(ctx) }()
	log.Info("workstation mode: taking tasks only while nobody uses this machine", "x11_displays", wc.X11Displays,
		"logind", wc.Logind, "session_dir", wc.SessionDir, "idle_before_work", wc.IdleBeforeWork, "on_activity", wc.OnActivity)
	return ws, func() { cancel(); <-done }, nil
}
