// Package sdktest runs a plugin's commands in-process, through the same gRPC
// service the Cajon host talks to, so plugin authors can test their commands
// without a host:
//
//	func TestEcho(t *testing.T) {
//		res := sdktest.Run(t, plugin(), "echo", map[string]any{"message": "hi"})
//		if res.Status != sdktest.Completed || res.Lines[0] != "hi" {
//			t.Fatalf("got %+v", res)
//		}
//	}
package sdktest

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/sdk"
	pluginv1 "github.com/cajonfarm/cajon/sdk/proto/cajon/plugin/v1"
	"github.com/cajonfarm/cajon/sdk/wire"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/structpb"
)

// Status is how a run ended: Completed, Failed or Canceled.
type Status = wire.Status

// The statuses a run ends with.
const (
	Completed = wire.Completed
	Failed    = wire.Failed
	Canceled  = wire.Canceled
)

// Progress is one progress event, as the host reads it: HasSteps is false
// for an activity-only update.
type Progress = wire.Progress

// Output is one produced file.
type Output = wire.Output

// Result is everything a command sent, in order of kind, read from its
// stream as the host reads it (one decoder, sdk/wire).
type Result struct {
	Lines    []string
	Progress []Progress
	Outputs  []Output
	// Children are the pids of the processes the command started.
	Children []int
	// Status is Completed, Failed or Canceled. Message says why it failed,
	// or what went wrong while it was being aborted (empty for a plain
	// abort).
	Status  Status
	Message string
	// Warnings are the warnings the command ended with (Run.Warn).
	Warnings []string
}

// collector gathers a run's events into its Result.
type collector struct{ res *Result }

func (c collector) Log(lines []string)  { c.res.Lines = append(c.res.Lines, lines...) }
func (c collector) Progress(p Progress) { c.res.Progress = append(c.res.Progress, p) }
func (c collector) Output(o Output)     { c.res.Outputs = append(c.res.Outputs, o) }
func (c collector) Child(p wire.ChildProcess) {
	if !p.Exited {
		c.res.Children = append(c.res.Children, p.PID)
	}
}

// Options tune a run.
type Options struct {
	// Config is the plugin's [plugins.<name>] table.
	Config map[string]any
	// Env and WorkDir are given to the command's processes.
	Env     map[string]string
	WorkDir string
	// Grace is the abort grace period (0 = SDK default).
	Grace time.Duration
	// TotalSteps is the task's step count for the command, as a Manager's
	// total_step_count gives it (0 = none).
	TotalSteps int64
	// CancelAfter aborts the command after this long (0 = never), as the host
	// does when a task is cancelled.
	CancelAfter time.Duration
	// JobID is the job the run belongs to; "" is "job".
	JobID string
}

// Run runs one command of p with params and returns what it sent. It fails
// the test when the plugin is broken (bad declarations, no result).
func Run(t testing.TB, p sdk.Plugin, command string, params map[string]any, opts ...Options) *Result {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	client := start(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	ps, err := structpb.NewStruct(params)
	if err != nil {
		t.Fatalf("sdktest: params are not JSON-like: %v", err)
	}
	cfg, err := structpb.NewStruct(o.Config)
	if err != nil {
		t.Fatalf("sdktest: config is not JSON-like: %v", err)
	}
	runID := "sdktest-" + time.Now().Format("150405.000000000")
	jobID := o.JobID
	if jobID == "" {
		jobID = "job"
	}
	stream, err := client.Run(ctx, &pluginv1.RunRequest{
		JobId: jobID, TaskId: "task", RunId: runID, Command: command,
		Parameters: ps, PluginConfig: cfg, Env: o.Env, WorkDir: o.WorkDir, GraceSeconds: o.Grace.Seconds(),
		TotalSteps: o.TotalSteps,
	})
	if err != nil {
		t.Fatalf("sdktest: Run: %v", err)
	}
	if o.CancelAfter > 0 {
		timer := time.AfterFunc(o.CancelAfter, func() {
			_, _ = client.Cancel(context.Background(), &pluginv1.CancelRequest{RunId: runID})
		})
		defer timer.Stop()
	}
	res := &Result{}
	for {
		ev, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			t.Fatalf("sdktest: %s ended its stream without a result", command)
		}
		if err != nil {
			t.Fatalf("sdktest: %s: stream broke: %v", command, err)
		}
		if end, final := wire.Deliver(ev, collector{res}); final {
			res.Status, res.Message, res.Warnings = end.Status, end.Message, end.Warnings
			return res
		}
	}
}

// Describe returns what p tells the host about itself.
func Describe(t testing.TB, p sdk.Plugin) *pluginv1.DescribeResponse {
	t.Helper()
	resp, err := start(t, p).Describe(context.Background(), &pluginv1.DescribeRequest{})
	if err != nil {
		t.Fatalf("sdktest: Describe: %v", err)
	}
	return resp
}

// start serves p on an in-memory connection for the duration of the test.
func start(t testing.TB, p sdk.Plugin) pluginv1.PluginClient {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	if err := sdk.Register(srv, p); err != nil {
		t.Fatalf("sdktest: plugin %q is not valid: %v", p.Name, err)
	}
	go func() { _ = srv.Serve(lis) }()
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("sdktest: dial: %v", err)
	}
	t.Cleanup(func() { conn.Close(); srv.Stop() })
	return pluginv1.NewPluginClient(conn)
}
