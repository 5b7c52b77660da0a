package flamenco

import "errors"

// Observer is told how each request to the Manager ended, for metrics and
// health checks (host/metrics). It is called on the requesting goroutine
// after the answer was read, so it must return quickly.
type Observer interface {
	// ManagerRequest reports one request: op names it as Error.Op does
	// ("sign-on", "task-update", "may-i-run", ...), status is the HTTP
	// status of the answer (0 when none came) and err is nil on success.
	ManagerRequest(op string, status int, err error)
}

func (c *Client) observe(r request, a answer, err error) {
	status := a.status
	var e *Error
	if errors.As(err, &e) {
		status = e.StatusCode
	}
	c.obs.ManagerRequest(r.op, status, err)
}
