package flamenco

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Kind sorts a failed request by what the caller should do about it.
type Kind int

// The kinds of error a request can end in.
const (
	// KindUnknown is the kind of nil and of errors that did not come from this package.
	KindUnknown Kind = iota
	// KindNetwork: no HTTP answer (connection refused or reset, DNS, timeout).
	KindNetwork
	// KindCanceled: the caller's context ended before the answer came. Not a
	// fault of the Manager; never retried.
	KindCanceled
	// KindUnauthorized: 403, the Manager does not know the worker's
	// credentials (its answer to an unknown worker id or a wrong secret):
	// the worker must register again.
	KindUnauthorized
	// KindBadRequest: 400 and the other 4xx that mean the request itself is
	// wrong (405, 411, 415...). Sending it again will not help.
	KindBadRequest
	// KindNotFound: 404, e.g. a task the Manager does not know.
	KindNotFound
	// KindConflict: 409, the worker is not awake (scheduleTask) or the task is
	// no longer assigned to it (task update).
	KindConflict
	// KindLocked: 423 from scheduleTask, the Manager wants the worker in
	// another status; the error wraps a *StatusChangeRequested.
	KindLocked
	// KindTooManyRequests: 429, the worker must slow down (output-produced).
	KindTooManyRequests
	// KindServer: 5xx, the Manager or a proxy in front of it failed.
	KindServer
	// KindBadAnswer: an answer that breaks the protocol: malformed JSON, a
	// missing required field, an unexpected status code.
	KindBadAnswer
	// KindAuthRequired: 401, an authentication challenge. The Manager
	// answers unknown credentials with 403, so a 401 comes from something
	// in between (an authenticating proxy) or a Manager in trouble: it is
	// retried, and the worker keeps its credentials.
	KindAuthRequired
	// KindTooLarge: 413, the request body is larger than the Manager or a
	// proxy in front of it accepts (nginx: client_max_body_size). The same
	// request will be refused again; a smaller one may pass.
	KindTooLarge
	// KindRedirect: a 3xx the client did not follow: to another scheme,
	// host or port, or one that would change the method (301, 302, 303).
	// Message names the Location, for the admin to fix manager.url.
	KindRedirect
	// KindBadTask: scheduleTask handed out a task that breaks the protocol
	// (a missing or mistyped field, commands null). Error.TaskID is its id
	// when that much could be read, so the worker can fail it on the
	// Manager and go on.
	KindBadTask
)

// String names the kind for logs.
func (k Kind) String() string {
	switch k {
	case KindUnknown:
		return "unknown"
	case KindNetwork:
		return "network"
	case KindCanceled:
		return "canceled"
	case KindUnauthorized:
		return "unauthorized"
	case KindBadRequest:
		return "bad request"
	case KindNotFound:
		return "not found"
	case KindConflict:
		return "conflict"
	case KindLocked:
		return "locked"
	case KindTooManyRequests:
		return "too many requests"
	case KindServer:
		return "server"
	case KindBadAnswer:
		return "bad answer"
	case KindAuthRequired:
		return "authentication required"
	case KindTooLarge:
		return "too large"
	case KindRedirect:
		return "redirect"
	case KindBadTask:
		return "bad task"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Error is a failed request to the Manager.
type Error struct {
	Op         string        // the operation, e.g. "sign-on", "task-update"
	Manager    string        // the Manager's base URL
	TaskID     string        // the task the request was about, if any
	StatusCode int           // HTTP status; 0 when there was no answer
	Kind       Kind          // what kind of failure; see Retryable
	Message    string        // the Manager's own message, or what was wrong with its answer
	RetryAfter time.Duration // from the Retry-After header; 0 when absent
	Err        error         // the underlying error, if any
}

// Error reads like
// `flamenco: sign-on to http://mgr:8080: 403 Forbidden: "unknown worker" (credentials rejected; ...)`.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("flamenco: ")
	b.WriteString(e.Op)
	if e.TaskID != "" {
		b.WriteString(" of task ")
		b.WriteString(e.TaskID)
	}
	if e.Manager != "" {
		b.WriteString(" to ")
		b.WriteString(e.Manager)
	}
	b.WriteString(": ")
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, "%d %s", e.StatusCode, http.StatusText(e.StatusCode))
		if e.Message != "" {
			fmt.Fprintf(&b, ": %q", e.Message)
		}
	} else if e.Message != "" {
		b.WriteString(e.Message)
	}
	if e.Err != nil {
		if e.StatusCode != 0 || e.Message != "" {
			b.WriteString(": ")
		}
		b.WriteString(e.Err.Error())
	}
	if h := e.hint(); h != "" {
		b.WriteString(" (")
		b.WriteString(h)
		b.WriteString(")")
	}
	return b.String()
}

// hint tells an admin what the failure means and what happens next.
func (e *Error) hint() string {
	switch e.Kind {
	case KindNetwork:
		return "no answer from the Manager: check that it runs and that this address reaches it"
	case KindUnauthorized:
		return "credentials rejected: the Manager does not know this worker id and secret; the worker must register again"
	case KindBadRequest:
		return "the Manager rejected the request as invalid; this is a bug in Cajon or a Manager of another version"
	case KindNotFound:
		if e.TaskID != "" {
			return "the Manager does not know this task; it may have been deleted"
		}
		return "no such endpoint: is this address a Flamenco 3 Manager?"
	case KindConflict:
		if e.TaskID != "" {
			return "the task is no longer assigned to this worker"
		}
		return "the Manager does not consider this worker awake (e.g. it timed the worker out); sign on again"
	case KindLocked:
		return "the Manager asks the worker to change status first"
	case KindTooManyRequests:
		return "the Manager is overloaded with these requests; slow down"
	case KindServer:
		if e.RetryAfter > 0 {
			return "the Manager is busy; retry after " + e.RetryAfter.String()
		}
		return "the Manager or a proxy in front of it failed; see the Manager's log"
	case KindBadAnswer:
		return "the answer breaks the Flamenco 3 protocol: is this address a Flamenco 3 Manager, or is a proxy in between?"
	case KindAuthRequired:
		return "an authentication challenge, not the Manager's answer to unknown credentials (403): is a proxy in between? " +
			"The worker keeps its credentials and retries"
	case KindTooLarge:
		return "the request is larger than the Manager or a proxy in front of it accepts (nginx: client_max_body_size)"
	case KindRedirect:
		return "set manager.url to the address the Manager answers on: the worker follows only 307 and 308 redirects " +
			"to the same scheme, host and port, so that its credentials and requests never go elsewhere"
	case KindBadTask:
		return "the Manager handed out a task this worker cannot run as given; it is reported failed on the Manager"
	}
	return ""
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// StatusChangeRequested is wrapped in the KindLocked error of ScheduleTask:
// the Manager gives no task until the worker has gone to Status.
type StatusChangeRequested struct {
	Status WorkerStatus
}

// Error names the requested status.
func (s *StatusChangeRequested) Error() string {
	return fmt.Sprintf("the Manager requests status %q", s.Status)
}

// RequestedStatus returns the status that a KindLocked error asks for.
func RequestedStatus(err error) (WorkerStatus, bool) {
	var s *StatusChangeRequested
	if errors.As(err, &s) {
		return s.Status, true
	}
	return "", false
}

// KindOf returns the kind of err, or KindUnknown when err is nil or does not
// come from this package.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindUnknown
}

// Retryable reports whether sending the same request again later may
// succeed: network failures, 5xx, 429, bad answers, 401 challenges and
// redirects not followed. Bad answers count because they mostly come from
// proxies and cut connections between the worker and the Manager; 401s and
// redirects come from proxies and addresses an admin can fix while the
// worker waits. A Manager that always answers so shows up in the worker's log
// on every retry. The caller chooses the backoff, starting no earlier than
// RetryAfterOf(err).
func Retryable(err error) bool {
	switch KindOf(err) {
	case KindNetwork, KindServer, KindTooManyRequests, KindBadAnswer, KindAuthRequired, KindRedirect:
		return true
	}
	return false
}

// RetryAfterOf returns how long the Manager asked the caller to wait before
// retrying (its Retry-After header), or 0.
func RetryAfterOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// kindOfStatus maps an HTTP status code that the operation did not expect to a Kind.
func kindOfStatus(code int) Kind {
	switch {
	case code == http.StatusUnauthorized:
		return KindAuthRequired
	case code == http.StatusForbidden:
		return KindUnauthorized
	case code == http.StatusRequestEntityTooLarge:
		return KindTooLarge
	case code >= 300 && code <= 399:
		return KindRedirect
	case code == http.StatusNotFound:
		return KindNotFound
	case code == http.StatusConflict:
		return KindConflict
	case code == http.StatusLocked:
		return KindLocked
	case code == http.StatusTooManyRequests:
		return KindTooManyRequests
	case code >= 500 && code <= 599:
		return KindServer
	case code >= 400 && code <= 499:
		return KindBadRequest
	}
	return KindBadAnswer
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
