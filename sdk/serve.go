package sdk

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/cajonfarm/cajon/sdk/proctree"
	pluginv1 "github.com/cajonfarm/cajon/sdk/proto/cajon/plugin/v1"
	"github.com/cajonfarm/cajon/sdk/wire"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// Plugin describes a plugin executable: its name, version and commands.
type Plugin struct {
	// Name is the plugin's name; its binary is called cajon-plugin-<Name>.
	Name string
	// Version is the plugin's own version, shown by `cajon plugins`.
	Version string
	// Commands are the commands the plugin provides.
	Commands []Command
	// Config declares the keys of the plugin's [plugins.<Name>] table, for
	// the host to check when the worker starts (ConfigOf). Unset: the host
	// passes the table on unchecked.
	Config ConfigSchema
	// Capabilities are optional things the plugin does; may be left empty.
	Capabilities Capabilities
}

// Capabilities are optional things a plugin does, told to the host by
// Describe. A field left false means "does not".
type Capabilities struct {
	// Previews: the plugin's commands report preview images (PreviewFolder).
	Previews bool
}

// hostGoneGrace is how long commands get to stop after the host died: short,
// because nobody is waiting for them any more.
const hostGoneGrace = time.Second

// hostGoneSweep bounds the final sweep of descendants after the commands
// ended or hostGoneGrace passed. With hostGoneGrace it fits in
// wire.ExitTime, so the host never kills a plugin that is cleaning up.
const hostGoneSweep = 2 * time.Second

// maxResultMessageBytes bounds a failure message, so that a command that
// fails with a huge error (a program's whole output, say) still ends with a
// result the host can read.
const maxResultMessageBytes = 64 << 10

// Serve runs the plugin until the host stops it. It never returns: it exits
// the process. Call it from main. A plugin run by hand (not by the Cajon host)
// prints a short explanation and exits with status 1.
func Serve(p Plugin) {
	srv, err := newServer(p)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cajon-plugin-%s: %v\n", p.Name, err)
		os.Exit(2)
	}
	// Orphans of our commands reparent to us, so the abort sweep finds them.
	if err := proctree.SetSubreaper(); err != nil {
		fmt.Fprintf(os.Stderr, "cajon-plugin-%s: cannot become a subreaper, escaped processes may survive an abort: %v\n", p.Name, err)
	}
	go srv.watchHost(openLifeline())
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig: wire.Handshake(),
		Plugins:         goplugin.PluginSet{wire.PluginKey: &grpcPlugin{srv: srv}},
		GRPCServer:      grpcServer,
	})
	srv.shutdown(hostGoneGrace)
	os.Exit(0)
}

// grpcServer is go-plugin's gRPC server with the message limits set.
func grpcServer(opts []grpc.ServerOption) *grpc.Server {
	return goplugin.DefaultGRPCServer(append(opts, grpc.MaxRecvMsgSize(wire.MaxMessageBytes), grpc.MaxSendMsgSize(wire.MaxMessageBytes)))
}

// grpcPlugin is the plugin side of go-plugin's GRPCPlugin interface.
type grpcPlugin struct {
	goplugin.NetRPCUnsupportedPlugin
	srv *server
}

func (g *grpcPlugin) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	pluginv1.RegisterPluginServer(s, g.srv)
	return nil
}

func (g *grpcPlugin) GRPCClient(context.Context, *goplugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errors.New("the SDK only serves plugins; the host has its own client")
}

// server implements the cajon.plugin.v1 service for one plugin.
type server struct {
	pluginv1.UnimplementedPluginServer
	plugin   Plugin
	commands map[string]Command

	mu   sync.Mutex
	runs map[string]*activeRun
	wg   sync.WaitGroup
}

type activeRun struct {
	cancel context.CancelFunc
	run    *Run
}

func newServer(p Plugin) (*server, error) {
	s := &server{plugin: p, commands: map[string]Command{}, runs: map[string]*activeRun{}}
	if p.Name == "" {
		return nil, errors.New("plugin has no Name")
	}
	if p.Config.err != nil {
		return nil, p.Config.err
	}
	for _, c := range p.Commands {
		if c.err != nil {
			return nil, c.err
		}
		if c.spec == nil || c.Name() == "" {
			return nil, errors.New("a command has no name (use sdk.NewCommand)")
		}
		if _, dup := s.commands[c.Name()]; dup {
			return nil, fmt.Errorf("command %q is declared twice", c.Name())
		}
		s.commands[c.Name()] = c
	}
	return s, nil
}

func (s *server) Describe(context.Context, *pluginv1.DescribeRequest) (*pluginv1.DescribeResponse, error) {
	// The same answer to every host: an older one ignores the fields it
	// does not know (it sends no features to go by).
	resp := &pluginv1.DescribeResponse{
		Name:              s.plugin.Name,
		Version:           s.plugin.Version,
		SdkVersion:        Version,
		TypedCapabilities: &pluginv1.Capabilities{Previews: s.plugin.Capabilities.Previews},
		ConfigSchema:      s.plugin.Config.schema,
	}
	for _, c := range s.plugin.Commands {
		resp.Commands = append(resp.Commands, c.spec)
	}
	return resp, nil
}

func (s *server) Cancel(_ context.Context, req *pluginv1.CancelRequest) (*pluginv1.CancelResponse, error) {
	s.mu.Lock()
	ar, ok := s.runs[req.GetRunId()]
	s.mu.Unlock()
	if !ok {
		return &pluginv1.CancelResponse{}, nil
	}
	ar.cancel()
	return &pluginv1.CancelResponse{Found: true}, nil
}

func (s *server) Run(req *pluginv1.RunRequest, stream pluginv1.Plugin_RunServer) error {
	res := s.run(stream.Context(), req, stream)
	// The result is the stream's last message. If the host is gone the send
	// fails; nothing more can be done about it here.
	return res
}

// run executes one request and always ends the stream with a Result.
func (s *server) run(ctx context.Context, req *pluginv1.RunRequest, stream eventSender) error {
	out := newEmitter(stream)
	cmd, ok := s.commands[req.GetCommand()]
	if !ok {
		return out.finish(failed(fmt.Sprintf("plugin %q has no command %q", s.plugin.Name, req.GetCommand())))
	}
	runner, err := cmd.decode(req.GetParameters().AsMap())
	if err != nil {
		return out.finish(failed(err.Error()))
	}
	grace := DefaultGrace
	if g := req.GetGraceSeconds(); g > 0 {
		grace = time.Duration(g * float64(time.Second))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := &Run{
		JobID: req.GetJobId(), TaskID: req.GetTaskId(), RunID: req.GetRunId(), Command: req.GetCommand(),
		WorkDir: req.GetWorkDir(), Env: req.GetEnv(), Grace: grace, TotalSteps: req.GetTotalSteps(),
		Cgroup: req.GetCgroupPath(),
		config: req.GetPluginConfig().AsMap(), out: out,
	}
	if r.RunID == "" {
		r.RunID = strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	s.mu.Lock()
	if _, dup := s.runs[r.RunID]; dup {
		s.mu.Unlock()
		return out.finish(failed(fmt.Sprintf("run id %q is already running in this plugin", r.RunID)))
	}
	s.runs[r.RunID] = &activeRun{cancel: cancel, run: r}
	s.wg.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.runs, r.RunID)
		s.mu.Unlock()
		s.wg.Done()
	}()

	runErr := safeRun(ctx, runner, r)
	switch {
	case ctx.Err() != nil:
		// The status says it was aborted; the message only what went
		// wrong on the way, so the host need not read it to know.
		msg := ""
		if runErr != nil && !errors.Is(runErr, context.Canceled) {
			msg = runErr.Error()
		}
		return out.finish(&pluginv1.Result{Status: pluginv1.Result_STATUS_CANCELED, Message: msg})
	case runErr != nil:
		return out.finish(failed(runErr.Error()))
	default:
		return out.finish(&pluginv1.Result{Status: pluginv1.Result_STATUS_COMPLETED})
	}
}

// safeRun turns a panic in a command into a failure of that command only.
func safeRun(ctx context.Context, runner Runner, r *Run) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("command %q panicked: %v\n%s", r.Command, p, debug.Stack())
		}
	}()
	return runner.Run(ctx, r)
}

func failed(msg string) *pluginv1.Result {
	if len(msg) > maxResultMessageBytes {
		cut := maxResultMessageBytes
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = fmt.Sprintf("%s... (%d more bytes of the message left out)", msg[:cut], len(msg)-cut)
	}
	return &pluginv1.Result{Status: pluginv1.Result_STATUS_FAILED, Message: msg}
}

// openLifeline opens the read end of the lifeline the host passed: a file
// descriptor on Unix, an inherited handle on Windows (wire.EnvLifelineFD,
// wire.EnvLifelineHandle). Nil when there is none. It is the plugin's own:
// close-on-exec, so no command inherits it. Serve opens it before it answers
// the host, so before any command can start.
func openLifeline() *os.File {
	env := wire.EnvLifelineFD
	if runtime.GOOS == "windows" {
		env = wire.EnvLifelineHandle
	}
	n, err := strconv.ParseUint(os.Getenv(env), 10, 64)
	if err != nil {
		return nil
	}
	closeOnExec(int(n))
	return os.NewFile(uintptr(n), "lifeline")
}

// watchHost ends the plugin when the host is gone: SIGTERM (our parent-death
// signal, or a polite stop) or EOF on the lifeline pipe (nil: none).
func (s *server) watchHost(lifeline *os.File) {
	gone := make(chan string, 2)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	go func() { sig := <-sigs; gone <- "received " + sig.String() }()
	if lifeline != nil {
		go func() {
			buf := make([]byte, 1)
			for {
				if _, err := lifeline.Read(buf); err != nil {
					gone <- "lifeline to the host closed"
					return
				}
			}
		}()
	}
	why := <-gone
	fmt.Fprintf(os.Stderr, "cajon-plugin-%s: %s (the host stopped this plugin, or is gone): stopping all commands\n", s.plugin.Name, why)
	s.shutdown(hostGoneGrace)
	os.Exit(0)
}

// shutdown aborts every running command, waits for them (bounded), then
// kills whatever descendant is left.
func (s *server) shutdown(grace time.Duration) {
	s.mu.Lock()
	for _, ar := range s.runs {
		ar.cancel() // TERM to each command's tree
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
	}
	// Whatever is still alive below us gets SIGKILL, including orphans that
	// reparented to us and belong to no command any more.
	ctx, cancel := context.WithTimeout(context.Background(), hostGoneSweep)
	defer cancel()
	_ = proctree.KillDescendants(ctx, os.Getpid())
}

// Register adds the plugin's cajon.plugin.v1 service to a gRPC server without
// go-plugin. Serve does this for real plugins; sdktest uses it to run
// commands in-process.
func Register(s *grpc.Server, p Plugin) error {
	srv, err := newServer(p)
	if err != nil {
		return err
	}
	pluginv1.RegisterPluginServer(s, srv)
	return nil
}
