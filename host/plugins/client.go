package plugins

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	pluginv1 "github.com/cajonfarm/cajon/sdk/proto/cajon/plugin/v1"
	"github.com/cajonfarm/cajon/sdk/wire"
)

// Client is the host's end of one plugin process: it runs a command over the
// plugin's Run stream and aborts it with Cancel. The Registry runs every
// command through one, and `cajon plugins check` (host/conformance) too, so
// both read a plugin's stream the same way.
type Client struct {
	rpc pluginv1.PluginClient
}

// Call is one run of a command through a Client.
type Call struct {
	Request *pluginv1.RunRequest
	// Grace is the command's abort grace (its Request's, or the SDK's
	// default for 0); the abort deadline is AbortDeadline(Grace).
	Grace time.Duration
	// Events receives the run's decoded events (wire.Deliver); nil drops them.
	Events Events
	// Raw, when set, sees every event as it arrives, before it is decoded:
	// the conformance check judges the plugin's own messages.
	Raw func(ev *pluginv1.RunEvent)
	// Abort, when it becomes ready, asks the plugin to abort the run (the
	// Cancel call, once); the run then has AbortDeadline(Grace) to end.
	Abort <-chan struct{}
	// Timeout, when not 0, bounds the wait for the result before an abort.
	Timeout time.Duration
	// CheckEnd, when not 0, is how long to wait after the result for the
	// stream to end (the protocol's last message is the result);
	// CallResult.End says what happened.
	CheckEnd time.Duration
}

// CallResult is how a Call ended.
type CallResult struct {
	// Result is the plugin's own result, and Raw the message it came in;
	// Raw is nil when the run ended without one (Err says why).
	Result Result
	Raw    *pluginv1.Result
	// Err, without a result: ErrNoResult, ErrAbortTimeout, ErrCancelRefused,
	// the stream's error (io.EOF: it ended without a result), or the
	// context's error when the Call's ctx ended.
	Err error
	// AbortedAt is when the abort was asked for; zero when it was not.
	AbortedAt time.Time
	// CancelFound is the plugin's answer to Cancel: it knew the run;
	// CancelErr is why the Cancel call failed (Err is ErrCancelRefused).
	CancelFound bool
	CancelErr   error
	// End, with CheckEnd: nil when the stream ended right after the result,
	// else what went wrong.
	End error
}

// Ways a Call ends without a result.
var (
	// ErrNoResult: no result within the Call's Timeout.
	ErrNoResult = errors.New("no result in time")
	// ErrAbortTimeout: no result within the abort deadline after Cancel.
	ErrAbortTimeout = errors.New("the plugin did not finish aborting in time")
	// ErrCancelRefused: the Cancel call failed.
	ErrCancelRefused = errors.New("the plugin did not accept the abort")
	// ErrAfterResult and ErrStayedOpen are what CallResult.End says of a
	// stream that sent more after its result, or did not end.
	ErrAfterResult = errors.New("events after the result: the result must be the stream's last message")
	ErrStayedOpen  = errors.New("the stream stayed open after the result")
)

// Run runs call until its result, an abort that is not finished in time, or
// the end of ctx, which ends the stream itself (the plugin notices and aborts
// the command). To let the plugin abort the command in order, use call.Abort.
func (c *Client) Run(ctx context.Context, call Call) CallResult {
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	stream, err := c.rpc.Run(sctx, call.Request)
	if err != nil {
		return CallResult{Err: err}
	}
	recv := make(chan received)
	go func() {
		for {
			ev, err := stream.Recv()
			select {
			case recv <- received{ev, err}:
			case <-sctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()

	var out CallResult
	var timeout <-chan time.Time
	if call.Timeout > 0 {
		t := time.NewTimer(call.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	abort := call.Abort
	for {
		select {
		case r := <-recv:
			if r.err != nil {
				if ctx.Err() != nil {
					out.Err = ctx.Err()
				} else {
					out.Err = r.err
				}
				return out
			}
			if call.Raw != nil {
				call.Raw(r.ev)
			}
			if res, final := wire.Deliver(r.ev, call.Events); final {
				out.Result, out.Raw = res, r.ev.GetResult()
				if call.CheckEnd > 0 {
					out.End = streamEnd(ctx, recv, call.CheckEnd)
				}
				return out
			}
		case <-abort:
			abort = nil // ask once
			out.AbortedAt = time.Now()
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cancelCallTimeout)
			resp, err := c.rpc.Cancel(cctx, &pluginv1.CancelRequest{RunId: call.Request.GetRunId()})
			cancel()
			if err != nil {
				out.Err, out.CancelErr = ErrCancelRefused, err
				return out
			}
			out.CancelFound = resp.GetFound()
			t := time.NewTimer(AbortDeadline(call.Grace))
			defer t.Stop()
			timeout = t.C
		case <-timeout:
			out.Err = ErrNoResult
			if !out.AbortedAt.IsZero() {
				out.Err = ErrAbortTimeout
			}
			return out
		case <-ctx.Done():
			out.Err = ctx.Err()
			return out
		}
	}
}

// received is one read of a Run stream: an event or the stream's error.
type received struct {
	ev  *pluginv1.RunEvent
	err error
}

// streamEnd waits up to d for the stream after its result: nil when it ends.
func streamEnd(ctx context.Context, recv <-chan received, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case r := <-recv:
		switch {
		case r.err == nil:
			return ErrAfterResult
		case errors.Is(r.err, io.EOF):
			return nil
		default:
			return fmt.Errorf("the stream broke after the result: %w", r.err)
		}
	case <-ctx.Done():
		return nil
	case <-t.C:
		return fmt.Errorf("%w for %s: return from Run after sending it", ErrStayedOpen, d)
	}
}

// Cancel asks the plugin whether it still runs runID, and to abort it if so.
func (c *Client) Cancel(ctx context.Context, runID string) (found bool, err error) {
	resp, err := c.rpc.Cancel(ctx, &pluginv1.CancelRequest{RunId: runID})
	return resp.GetFound(), err
}
