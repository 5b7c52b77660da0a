//go:build unix

package realmanager

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/internal/testwait"
	"github.com/cajonfarm/cajon/internal/xvfbtest"
)

// Workstation mode against the real Manager, with input on a real Xvfb
// display: the pointer move aborts the running task (on_activity =
// requeue), the worker signs off, and the Manager shows it offline and
// requeues the task; once the display is idle, the worker signs on again
// (the Manager asks for the remembered awake) and gets the task back.
func TestWorkstationRequeueOnRealManager(t *testing.T) {
	disp := xvfbtest.Start(t)
	m := startManager(t)
	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	c := startCajon(t, m, "cajon-desk", cajonOptions{env: []string{
		fmt.Sprintf("CAJON_METRICS_LISTEN=127.0.0.1:%d", port),
		"CAJON_WORKSTATION_X11_DISPLAYS=" + disp.Name,
		"CAJON_WORKSTATION_IDLE_BEFORE_WORK=2s",
		"CAJON_WORKSTATION_POLL_INTERVAL=200ms",
		"CAJON_WORKSTATION_ON_ACTIVITY=requeue",
	}})
	m.waitWorker(c.Name, "awake", 60*time.Second)
	job := execJob(m, "desk-render", "/bin/sh", "-c", "exec sleep 600")
	id := onlyTask(m, job).ID
	waitStarted(m, id)

	disp.MovePointer(t, 50, 60)
	m.waitWorker(c.Name, "offline", 30*time.Second)
	testwait.Within(t, "the task to be requeued", 30*time.Second, func() bool {
		return onlyTask(m, job).Status == "queued"
	})
	// While the person stays (the test keeps moving the pointer), /metrics
	// and /healthz say why the worker does not work.
	moves := 0
	testwait.Within(t, "/metrics and /healthz to show the workstation in use", 30*time.Second, func() bool {
		moves++
		disp.MovePointer(t, 50+moves, 60)
		if scrape(t, base+"/metrics", "cajon_worker_activity", `activity="workstation_in_use"`) != 1 {
			return false
		}
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode == http.StatusOK && strings.Contains(string(body), "a person is using this workstation")
	})

	// No more input: back to work within idle_before_work plus a poll.
	m.waitWorker(c.Name, "awake", 60*time.Second)
	testwait.Within(t, "the task to run again", 60*time.Second, func() bool {
		return onlyTask(m, job).Status == "active"
	})
	m.setJobStatus(job, "cancel-requested", "test: done")
	m.waitJob(job, "canceled", 30*time.Second)
	for _, want := range []string{"a person is using this workstation", "signing on to take tasks"} {
		testwait.Within(t, "the log to say "+want, 10*time.Second, func() bool { return strings.Contains(c.out.String(), want) })
	}
}
