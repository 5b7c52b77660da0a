// Package flamenco is a typed client of a Flamenco 3 Manager's worker API.
//
// Every method makes one HTTP request, with a per-request timeout, HTTP Basic
// credentials (except Register and Version) and Cajon's User-Agent. It never
// retries: a failure comes back as an *Error whose Kind tells the caller
// (the worker lifecycle, the update sender) whether to retry, sign on again,
// register again or change state.
//
// It follows a redirect only when it is a 307 or 308 to the Manager's own
// scheme, host and port (see followRedirect); any other redirect is a
// KindRedirect error that names the Location.
package flamenco

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cajonfarm/cajon/host/version"
)

// DefaultTimeout bounds one request when Config.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// maxAnswerBytes bounds what is read of one answer. Assigned tasks are the
// largest answers, and even a task with hundreds of commands is far smaller.
const maxAnswerBytes = 32 << 20

// Config says which Manager to talk to and as whom.
type Config struct {
	BaseURL  string        // the Manager, e.g. "http://manager:8080"
	WorkerID string        // the worker's UUID from Register; empty before registration
	Secret   string        // the secret sent with Register
	Timeout  time.Duration // per request, including reading the answer; 0 means DefaultTimeout
	// HTTPClient sends the requests; nil means a client of its own that keeps
	// connections alive. Its own Timeout, if any, also applies; its
	// CheckRedirect is replaced by the client's redirect policy (on a copy).
	HTTPClient *http.Client
}

// Client talks to one Manager. It is safe for concurrent use.
type Client struct {
	base    *url.URL
	manager string // base URL as shown in error messages
	id      string
	secret  string
	timeout time.Duration
	http    *http.Client
	agent   string
}

// New checks cfg and returns a Client. The URL must be absolute http or
// https, with no query or fragment; a path prefix is kept (for a Manager
// behind a reverse proxy).
func New(cfg Config) (*Client, error) {
	base, err := parseBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("flamenco: request timeout %v is negative", cfg.Timeout)
	}
	c := &Client{
		base:    base,
		manager: base.String(),
		id:      cfg.WorkerID,
		secret:  cfg.Secret,
		timeout: cfg.Timeout,
		http:    cfg.HTTPClient,
		agent:   version.UserAgent(),
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	if c.http == nil {
		c.http = newHTTPClient()
	} else {
		cp := *c.http
		c.http = &cp
	}
	c.http.CheckRedirect = followRedirect
	return c, nil
}

// maxRedirects bounds a chain of followed redirects.
const maxRedirects = 5

// followRedirect is the redirect policy: follow only a 307 or 308 to the
// same scheme, host and port as the original request. Those keep the method
// and the body, and the credentials go where they were meant to go (net/http
// would also send Authorization to another port of the same host). Anything
// else is answered to the caller as the redirect itself, a KindRedirect
// error naming the Location: a 301, 302 or 303 would turn a POST into a GET
// and lose its body (a task update), and another origin must never get the
// worker's credentials or a registration's secret. A correct setup has no
// redirect at all, so refusing is also the way to tell the admin that
// manager.url is wrong (http for https, a missing path prefix).
func followRedirect(req *http.Request, via []*http.Request) error {
	switch {
	case len(via) >= maxRedirects,
		req.Response == nil,
		req.Response.StatusCode != http.StatusTemporaryRedirect && req.Response.StatusCode != http.StatusPermanentRedirect,
		!sameOrigin(req.URL, via[0].URL):
		return http.ErrUseLastResponse
	}
	return nil
}

// sameOrigin reports whether a and b have the same scheme, host and port.
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

// port is u's port, or the scheme's default one.
func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "https") {
		return "443"
	}
	return "80"
}

func parseBaseURL(raw string) (*url.URL, error) {
	raw = strings.TrimSpace(raw)
	bad := func(why string) error {
		return fmt.Errorf("flamenco: Manager URL %q: %s (want e.g. http://manager:8080)", raw, why)
	}
	if raw == "" {
		return nil, bad("empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, bad(err.Error())
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, bad("the scheme must be http or https")
	case u.Host == "" || u.Hostname() == "":
		return nil, bad("no host name")
	case u.User != nil:
		return nil, bad("credentials do not belong in the URL; the worker sends its own")
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return nil, bad("a query or fragment is not allowed")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// newHTTPClient returns a client whose transport keeps enough idle
// connections for the worker's concurrent callers (fetch loop, may-i-run,
// update sender): a new TCP connection per small request would dominate.
func newHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 8
	return &http.Client{Transport: t}
}

// WithCredentials returns a copy of c that authenticates as worker id with
// secret, sharing c's connections. Used after Register.
func (c *Client) WithCredentials(id, secret string) *Client {
	cp := *c
	cp.id, cp.secret = id, secret
	return &cp
}

// WorkerID returns the worker id the client authenticates with.
func (c *Client) WorkerID() string { return c.id }

// Version asks the Manager which Flamenco version it runs (no credentials).
func (c *Client) Version(ctx context.Context) (Version, error) {
	a, err := c.do(ctx, request{op: "version", method: http.MethodGet, path: "/api/v3/version", noAuth: true, want: http.StatusOK})
	if err != nil {
		return Version{}, err
	}
	v, err := decodeVersion(a.body)
	if err != nil {
		return Version{}, c.badAnswer(a.req, a.status, err)
	}
	return v, nil
}

// Register registers a new worker (no credentials). The answer's UUID and
// the registration's secret are the worker's credentials from now on.
func (c *Client) Register(ctx context.Context, reg WorkerRegistration) (RegisteredWorker, error) {
	if reg.SupportedTaskTypes == nil {
		reg.SupportedTaskTypes = []string{} // the schema wants an array, not null
	}
	a, err := c.do(ctx, request{op: "register", method: http.MethodPost, path: "/api/v3/worker/register-worker", body: reg, noAuth: true, want: http.StatusOK})
	if err != nil {
		return RegisteredWorker{}, err
	}
	w, err := decodeRegisteredWorker(a.body)
	if err != nil {
		return RegisteredWorker{}, c.badAnswer(a.req, a.status, err)
	}
	return w, nil
}

// SignOn tells the Manager the worker is up, with its current metadata, and
// returns the status the Manager wants it in. The Manager sets the worker to
// "starting": it gets no task until it acknowledges a status with
// StateChanged.
func (c *Client) SignOn(ctx context.Context, s WorkerSignOn) (WorkerStateChange, error) {
	if s.SupportedTaskTypes == nil {
		s.SupportedTaskTypes = []string{} // the schema wants an array, not null
	}
	a, err := c.do(ctx, request{op: "sign-on", method: http.MethodPost, path: "/api/v3/worker/sign-on", body: s, want: http.StatusOK})
	if err != nil {
		return WorkerStateChange{}, err
	}
	st, err := decodeStateChange(a.body)
	if err != nil {
		return WorkerStateChange{}, c.badAnswer(a.req, a.status, err)
	}
	return st, nil
}

// SignOff tells the Manager the worker goes offline; the Manager requeues the
// worker's active tasks.
func (c *Client) SignOff(ctx context.Context) error {
	_, err := c.do(ctx, request{op: "sign-off", method: http.MethodPost, path: "/api/v3/worker/sign-off", want: http.StatusNoContent})
	return err
}

// State asks whether the Manager wants the worker in another status.
// changed is false when nothing is pending (204).
func (c *Client) State(ctx context.Context) (req WorkerStateChange, changed bool, err error) {
	a, err := c.do(ctx, request{op: "state", method: http.MethodGet, path: "/api/v3/worker/state", want: http.StatusOK, alsoOK: http.StatusNoContent})
	if err != nil {
		return WorkerStateChange{}, false, err
	}
	if a.status == http.StatusNoContent {
		return WorkerStateChange{}, false, nil
	}
	st, err := decodeStateChange(a.body)
	if err != nil {
		return WorkerStateChange{}, false, c.badAnswer(a.req, a.status, err)
	}
	return st, true, nil
}

// StateChanged tells the Manager the worker is now in status. Leaving awake
// makes the Manager requeue the worker's active tasks.
func (c *Client) StateChanged(ctx context.Context, status WorkerStatus) error {
	_, err := c.do(ctx, request{op: "state-changed", method: http.MethodPost, path: "/api/v3/worker/state-changed", body: WorkerStateChanged{Status: status}, want: http.StatusNoContent})
	return err
}

// ScheduleTask asks for a task. It returns nil, nil when the Manager has none
// for this worker. A task that is still assigned to this worker comes back
// again. Errors to expect: KindLocked wrapping *StatusChangeRequested (go to
// that status first, see RequestedStatus), KindConflict (the worker is not
// awake on the Manager: sign on again), KindServer with RetryAfter.
func (c *Client) ScheduleTask(ctx context.Context) (*AssignedTask, error) {
	a, err := c.do(ctx, request{op: "schedule-task", method: http.MethodPost, path: "/api/v3/worker/task", want: http.StatusOK, alsoOK: http.StatusNoContent, locked: true})
	if err != nil {
		return nil, err
	}
	if a.status == http.StatusNoContent {
		return nil, nil
	}
	t, err := decodeAssignedTask(a.body)
	if err != nil {
		id, isTask := assignedTaskID(a.body)
		if !isTask {
			// Not JSON at all, or cut off: a broken answer, not a bad
			// task. The Manager hands the same task out again.
			return nil, c.badAnswer(a.req, a.status, err)
		}
		return nil, &Error{Op: a.req.op, Manager: c.manager, TaskID: id, StatusCode: a.status, Kind: KindBadTask,
			Message: "the task is malformed", Err: err}
	}
	return &t, nil
}

// UpdateTask sends progress, log lines or a new status of a task. KindConflict
// means the task is no longer this worker's; KindNotFound that the Manager
// does not know it; KindBadRequest that the update was rejected (e.g. a
// status a worker may not set).
func (c *Client) UpdateTask(ctx context.Context, taskID string, u TaskUpdate) error {
	_, err := c.do(ctx, request{op: "task-update", taskID: taskID, method: http.MethodPost, path: taskPath(taskID, ""), body: u, want: http.StatusNoContent})
	return err
}

// MayIRun asks whether the worker may keep running a task.
func (c *Client) MayIRun(ctx context.Context, taskID string) (MayKeepRunning, error) {
	a, err := c.do(ctx, request{op: "may-i-run", taskID: taskID, method: http.MethodGet, path: taskPath(taskID, "/may-i-run"), want: http.StatusOK})
	if err != nil {
		return MayKeepRunning{}, err
	}
	m, err := decodeMayKeepRunning(a.body)
	if err != nil {
		return MayKeepRunning{}, c.badAnswer(a.req, a.status, err)
	}
	return m, nil
}

// OutputProduced sends the latest rendered image of a task (mime
// "image/jpeg" or "image/png") for the Manager's web interface. KindTooManyRequests
// means the Manager's thumbnail queue is full: skip this image.
func (c *Client) OutputProduced(ctx context.Context, taskID, mime string, image []byte) error {
	_, err := c.do(ctx, request{op: "output-produced", taskID: taskID, method: http.MethodPost, path: taskPath(taskID, "/output-produced"), raw: image, rawType: mime, want: http.StatusAccepted})
	return err
}

func taskPath(taskID, suffix string) string {
	return "/api/v3/worker/task/" + url.PathEscape(taskID) + suffix
}

// request describes one call.
type request struct {
	op     string
	taskID string
	method string
	path   string
	body   any    // sent as JSON when not nil
	raw    []byte // sent as is with rawType when body is nil
	// rawType is raw's Content-Type; a non-empty one also marks that raw is
	// the body, even when raw is empty.
	rawType string
	noAuth  bool
	want    int  // the status of success
	alsoOK  int  // a second status of success (204), if any
	locked  bool // 423 carries a WorkerStateChange
}

// answer is a successful call's status and body.
type answer struct {
	req    request
	status int
	body   []byte
}

func (c *Client) do(ctx context.Context, r request) (answer, error) {
	var body io.Reader
	contentType := ""
	switch {
	case r.body != nil:
		// Without HTML escaping: a log full of '<' would otherwise grow six
		// times over (\u003c) on its way to the Manager's body limit.
		var data bytes.Buffer
		enc := json.NewEncoder(&data)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(r.body); err != nil {
			return answer{}, &Error{Op: r.op, Manager: c.manager, TaskID: r.taskID, Kind: KindBadRequest, Message: "cannot encode the request", Err: err}
		}
		body, contentType = bytes.NewReader(data.Bytes()), "application/json"
	case r.rawType != "" || r.raw != nil:
		// bytes.Reader makes net/http send a Content-Length, which
		// output-produced requires.
		body, contentType = bytes.NewReader(r.raw), r.rawType
	}

	ctx, cancel := context.WithTimeoutCause(ctx, c.timeout, requestTimeout{})
	defer cancel()
	// The base URL has no query and no trailing slash, and the path is
	// already escaped, so plain concatenation is the request URL.
	req, err := http.NewRequestWithContext(ctx, r.method, c.manager+r.path, body)
	if err != nil {
		return answer{}, &Error{Op: r.op, Manager: c.manager, TaskID: r.taskID, Kind: KindBadRequest, Message: "cannot make the request", Err: err}
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.agent)
	if !r.noAuth {
		req.SetBasicAuth(c.id, c.secret)
	}

	resp, err := c.http.Do(req)
	if err != nil {
		return answer{}, c.transportError(ctx, r, err)
	}
	data, readErr := readAll(resp.Body)
	resp.Body.Close()
	if readErr != nil {
		if errors.Is(readErr, answerTooLarge{}) {
			return answer{}, &Error{Op: r.op, Manager: c.manager, TaskID: r.taskID, StatusCode: resp.StatusCode, Kind: KindBadAnswer, Message: fmt.Sprintf("answer larger than %d MiB", maxAnswerBytes>>20)}
		}
		return answer{}, c.transportError(ctx, r, readErr)
	}

	if resp.StatusCode == r.want || (r.alsoOK != 0 && resp.StatusCode == r.alsoOK) {
		return answer{req: r, status: resp.StatusCode, body: data}, nil
	}
	e := &Error{
		Op:         r.op,
		Manager:    c.manager,
		TaskID:     r.taskID,
		StatusCode: resp.StatusCode,
		Kind:       kindOfStatus(resp.StatusCode),
		Message:    decodeErrorMessage(data),
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
	}
	if e.Kind == KindRedirect {
		e.Message = redirectMessage(resp)
	}
	if e.Kind == KindLocked {
		if !r.locked {
			e.Kind = KindBadAnswer
		} else if st, err := decodeStateChange(data); err != nil {
			e.Kind, e.Err = KindBadAnswer, err
		} else {
			e.Message = ""
			e.Err = &StatusChangeRequested{Status: st.StatusRequested}
		}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		e.Message, e.Err = "", errors.New("unexpected status for this request")
	}
	return answer{}, e
}

// redirectMessage says where a redirect that was not followed pointed, and why
// it was not followed.
func redirectMessage(resp *http.Response) string {
	loc, err := resp.Location()
	if err != nil {
		return "a redirect without a usable Location, not followed"
	}
	why := "only 307 and 308 are followed: this one would turn the request into a GET without its body"
	if !sameOrigin(loc, resp.Request.URL) {
		why = "it points to another scheme, host or port, which must not get the worker's credentials"
	}
	return fmt.Sprintf("redirected to %s, not followed: %s", loc.Redacted(), why)
}

// badAnswer wraps a decoding problem of a successful status.
func (c *Client) badAnswer(r request, status int, err error) *Error {
	return &Error{Op: r.op, Manager: c.manager, TaskID: r.taskID, StatusCode: status, Kind: KindBadAnswer, Err: err}
}

// transportError classifies a failure with no complete HTTP answer.
func (c *Client) transportError(ctx context.Context, r request, err error) *Error {
	e := &Error{Op: r.op, Manager: c.manager, TaskID: r.taskID, Kind: KindNetwork, Err: err}
	if ctx.Err() != nil {
		cause := context.Cause(ctx)
		if errors.Is(cause, requestTimeout{}) {
			e.Message = fmt.Sprintf("no answer within %v", c.timeout)
			e.Err = context.DeadlineExceeded
			return e
		}
		// The caller's context ended (shutdown, or a deadline of its own).
		e.Kind = KindCanceled
		e.Message = "gave up waiting for the Manager"
		e.Err = cause
		return e
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		e.Err = uerr.Err // the Manager's address is already in the message
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		e.Message = "the connection closed before the answer was complete"
	}
	return e
}

// requestTimeout is the cause of a request's own deadline, told apart from
// the end of the caller's context.
type requestTimeout struct{}

func (requestTimeout) Error() string { return "request timeout" }

// answerTooLarge is readAll's error for an answer beyond maxAnswerBytes.
type answerTooLarge struct{}

func (answerTooLarge) Error() string { return "answer too large" }

// readAll reads the whole body (so the connection can be reused) up to maxAnswerBytes.
func readAll(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxAnswerBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxAnswerBytes {
		return nil, answerTooLarge{}
	}
	return data, nil
}
