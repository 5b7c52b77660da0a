//go:build linux

package winetest

import (
	"testing"

	"github.com/cajonfarm/cajon/host/workstation"
	"github.com/cajonfarm/cajon/internal/testwait"
	"github.com/cajonfarm/cajon/internal/wine"
)

// cajon.exe idle-helper, as started at logon in a user's session, reads
// GetLastInputInfo and keeps a report in the session folder that the
// worker's Sessions detector reads.
func TestIdleHelperReports(t *testing.T) {
	env.Require(t)
	h := newHost(t)
	dir := t.TempDir()
	cmd := env.Cajon(h.mark, "idle-helper", "--dir", wine.WinPath(dir), "--poll", "200ms")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	det := workstation.NewSessions(dir)
	testwait.For(t, "the helper's report", func() bool {
		_, err := det.Idle(t.Context())
		return err == nil
	})
	// A logout ends the helper; its report then goes stale.
	procs, _ := env.Processes(h.mark)
	for _, p := range procs {
		_ = wine.KillLinux(p.PID)
	}
	<-done
	h.requireNoProcesses(t)
}
