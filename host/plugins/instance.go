package plugins

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/cajonfarm/cajon/host/rundir"
	"github.com/cajonfarm/cajon/sdk/proctree"
	pluginv1 "github.com/cajonfarm/cajon/sdk/proto/cajon/plugin/v1"
	"github.com/cajonfarm/cajon/sdk/wire"
	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// startTimeout bounds the handshake and Describe of a starting plugin.
const startTimeout = 15 * time.Second

// instance is one running process of a plugin.
type instance struct {
	client   *goplugin.Client
	rpc      pluginv1.PluginClient
	lifeline *os.File // write end; the plugin sees EOF when we die
	dir      string   // the process's private folder (newProcessDirs)
	sock     string   // its Unix socket, "" for TCP
	hold     *pluginHold
	pid      int
	stamp    fileStamp
	info     *pluginv1.DescribeResponse
	started  time.Time

	mu     sync.Mutex
	active int // runs in flight
	retire bool
	idle   *time.Timer
}

// fileStamp identifies one version of a plugin binary on disk.
type fileStamp struct {
	size    int64
	modTime time.Time
}

func stampOf(path string) (fileStamp, error) {
	info, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{size: info.Size(), modTime: info.ModTime()}, nil
}

// clientSide is the host side of go-plugin's GRPCPlugin interface.
type clientSide struct {
	goplugin.NetRPCUnsupportedPlugin
}

func (clientSide) GRPCServer(*goplugin.GRPCBroker, *grpc.Server) error {
	return errors.New("the host does not serve plugins")
}

func (clientSide) GRPCClient(_ context.Context, _ *goplugin.GRPCBroker, cc *grpc.ClientConn) (any, error) {
	return pluginv1.NewPluginClient(cc), nil
}

// startInstance launches the plugin binary at path, connects and describes
// it (the negotiation: negotiate.go). A non-nil secure makes go-plugin check
// the binary's digest first. The process's socket and private folder go in
// runDir ("" = the system's temporary folder). A ctx that ends while the
// plugin starts kills it with its tree. A non-zero oomAdj is the plugin's
// OOM-killer adjustment (oom_score_adjust), inherited by its commands.
func startInstance(ctx context.Context, name, path string, secure *goplugin.SecureConfig, logger hclog.Logger, runDir string, oomAdj int) (*instance, error) {
	stamp, err := stampOf(path)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w", name, err)
	}
	dirs, err := newProcessDirs(runDir, name)
	if err != nil {
		return nil, err
	}
	lifelineR, lifelineW, err := os.Pipe()
	if err != nil {
		rundir.RemoveTree(dirs.private)
		return nil, fmt.Errorf("plugin %s: lifeline pipe: %w", name, err)
	}
	// go-plugin's Start does not take a context: startCtx ends when ctx
	// does during the start, and cmd.Cancel then kills the plugin.
	startCtx, cancelStart := context.WithCancel(context.Background())
	cmd := exec.CommandContext(startCtx, path)
	cmd.Cancel = func() error { return killStarted(cmd) }
	var extra []string
	if dir, err := hostDir(); err == nil {
		extra = append(extra, wire.EnvHostDir+"="+dir)
	}
	cmd.Env = pluginEnv(dirs, extra...)
	containPlugin(cmd)
	if err := passLifeline(cmd, lifelineR); err != nil {
		cancelStart()
		lifelineR.Close()
		lifelineW.Close()
		rundir.RemoveTree(dirs.private)
		return nil, fmt.Errorf("plugin %s: %w", name, err)
	}

	stderr := &stderrTail{}
	client := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig:  wire.Handshake(),
		Plugins:          goplugin.PluginSet{wire.PluginKey: clientSide{}},
		Cmd:              cmd,
		SkipHostEnv:      true, // pluginEnv has it
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		AutoMTLS:         true,
		Logger:           logger,
		Stderr:           stderr, // besides the logger: quoted when the start fails
		StartTimeout:     startTimeout,
		SecureConfig:     secure,
		// go-plugin allows 2 GiB each way; the plugin's server takes
		// wire.MaxMessageBytes, so the host holds itself to the same.
		GRPCDialOptions: []grpc.DialOption{grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(wire.MaxMessageBytes), grpc.MaxCallSendMsgSize(wire.MaxMessageBytes))},
	})
	// The parent-death signal fires when the OS thread that forked the plugin
	// exits, not the process: fork from a locked thread that lives on.
	startErr := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		_, err := client.Start()
		// A goroutine that exits while locked takes its thread down (and
		// that would fire the signal): unlock so the thread lives on.
		runtime.UnlockOSThread()
		startErr <- err
	}()
	stopWatch := context.AfterFunc(ctx, cancelStart)
	err = <-startErr
	stopWatch()
	lifelineR.Close()
	if err != nil {
		lifelineW.Close()
		abandonStart(client, cmd)
		rundir.RemoveTree(dirs.private)
		if ctx.Err() != nil {
			// go-plugin's error then only tells of the kill.
			return nil, fmt.Errorf("plugin %s (%s): its start was given up: %w%s", name, path, context.Cause(ctx), stderr.quote())
		}
		if errors.Is(err, goplugin.ErrChecksumsDoNotMatch) {
			return nil, checksumRefusal(name, path)
		}
		return nil, fmt.Errorf("plugin %s (%s) did not start: %w%s", name, path, handshakeFailure(err), stderr.quote())
	}
	inst := &instance{client: client, lifeline: lifelineW, dir: dirs.private, sock: socketOf(client), stamp: stamp, started: time.Now()}
	if rc := client.ReattachConfig(); rc != nil && rc.Pid != 0 {
		inst.pid = rc.Pid
		if inst.hold, err = holdPlugin(inst.pid); err != nil {
			logger.Warn("the plugin is not tied to the host: if the host is killed, the plugin's processes may outlive it until they notice", "plugin", name, "error", err)
		}
		// Before the plugin is sent any command, so every process of
		// every command inherits it.
		if oomAdj != 0 {
			if err := adjustOOM(inst.pid, oomAdj); err != nil {
				logger.Warn("the OOM-killer adjustment was not applied", "plugin", name, "error", err)
			}
		}
	}
	conn, err := client.Client()
	if err != nil {
		inst.kill(ctx)
		return nil, fmt.Errorf("plugin %s (%s): connecting: %w%s", name, path, err, stderr.quote())
	}
	raw, err := conn.Dispense(wire.PluginKey)
	if err != nil {
		inst.kill(ctx)
		return nil, fmt.Errorf("plugin %s (%s): %w%s", name, path, err, stderr.quote())
	}
	inst.rpc = raw.(pluginv1.PluginClient)
	dctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	info, err := inst.rpc.Describe(dctx, describeRequest())
	if err != nil {
		inst.kill(ctx)
		return nil, fmt.Errorf("plugin %s (%s): Describe failed: %w%s", name, path, err, stderr.quote())
	}
	inst.info = info
	return inst, nil
}

// handshakeFailure replaces go-plugin's error for a plugin whose stdout did
// not start with the handshake line: that text guesses at a wrong
// architecture, missing libraries or file modes, while such a plugin usually
// ran and exited, saying why on its stderr (quoted after this).
// go-plugin says "exited before we could connect" instead when it notices
// the exit first.
func handshakeFailure(err error) error {
	msg := err.Error()
	first, _, _ := strings.Cut(msg, "\n")
	line, unrecognized := strings.CutPrefix(first, "Unrecognized remote plugin message: ")
	switch {
	case msg == "plugin exited before we could connect",
		unrecognized && strings.Contains(msg, "Failed to read any lines from plugin's stdout"):
		return errors.New("it exited, or closed its stdout, without writing go-plugin's handshake line there")
	case unrecognized:
		return fmt.Errorf("its first line on stdout is %q, not go-plugin's handshake line (a plugin writes nothing to stdout before it)", line)
	default:
		return err
	}
}

// exited reports whether the plugin process has ended.
func (i *instance) exited() bool { return i.client.Exited() }

// stop ends a plugin in the documented order (docs/PLUGINS.md, "Stopping"):
// close the lifeline, so the plugin sees EOF, ends its commands and exits;
// wait up to wire.ExitTime; kill it with its tree if it is still there. go-plugin's
// Kill comes last, when the process is gone, and only releases the
// connection: called first, it asks through go-plugin's own controller
// service, which a plugin written without go-plugin's Go library does not
// have, then kills the plugin after 2 s whatever it would have done.
func (i *instance) stop() {
	i.lifeline.Close()
	if !i.waitExit(wire.ExitTime) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		i.kill(ctx)
		return
	}
	i.hold.release()
	i.client.Kill()
	i.removeDir()
}

// waitExit waits up to d for the plugin process to end; false if it did not.
func (i *instance) waitExit(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !i.exited() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// kill ends the plugin and its whole process tree at once.
func (i *instance) kill(ctx context.Context) {
	i.hold.kill()
	if i.pid != 0 {
		_ = proctree.KillTree(ctx, i.pid)
	}
	i.client.Kill()
	i.lifeline.Close()
	i.removeDir()
}
