//go:build unix

// Command cajon-plugin-foreign is a plugin written the way a plugin in
// another language must be: without the SDK and without go-plugin's server
// library, only gRPC and the handshake that docs/PLUGINS.md describes. It
// proves that description is enough, and it misbehaves on demand for the
// tests of `cajon plugins check` and of the host's stop order
// (CAJON_FOREIGN_MODE, see modes). It is never shipped.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	pluginv1 "github.com/cajonfarm/cajon/sdk/proto/cajon/plugin/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// Environment of the fixture.
const (
	// envMode selects a misbehaviour; empty = a well-behaved plugin.
	envMode = "CAJON_FOREIGN_MODE"
	// envMarker names a file the plugin writes "lifeline" into when it exits
	// because its lifeline closed.
	envMarker = "CAJON_FOREIGN_MARKER"
	// envDescribed names a file the plugin writes the host's DescribeRequest
	// into (protojson), so tests see what crossed the wire.
	envDescribed = "CAJON_FOREIGN_DESCRIBED"
)

// The modes.
const (
	modeGood           = ""
	modeIgnoreLifeline = "ignore-lifeline" // never exits by itself
	modeIgnoreCancel   = "ignore-cancel"   // Cancel is "found" but nothing stops
	modeLeak           = "leak"            // spawn's child escapes into a session of its own and stays
	modeBadEvents      = "bad-events"      // count sends malformed events
	modeBadSchema      = "bad-schema"      // Describe is invalid
	modeNoResult       = "no-result"       // count ends its stream without a Result

	// modeNegotiate answers the fields of the negotiation (typed
	// capabilities, a config schema) and declares parameters without a type
	// and of a type newer than the host. The other modes answer as a plugin
	// built before the negotiation does: without them.
	modeNegotiate = "negotiate"
)

func main() {
	if os.Getenv("CAJON_PLUGIN") != "cajon-plugin-v1" {
		fmt.Fprintln(os.Stderr, "cajon-plugin-foreign is a Cajon plugin: the cajon host starts it")
		os.Exit(1)
	}
	mode := os.Getenv(envMode)
	if err := serve(mode); err != nil {
		fmt.Fprintln(os.Stderr, "cajon-plugin-foreign:", err)
		os.Exit(1)
	}
}

func serve(mode string) error {
	// The host's folder for the socket, as docs/PLUGINS.md says (the host
	// removes it); a temporary one of our own without it.
	dir := os.Getenv("PLUGIN_UNIX_SOCKET_DIR")
	if dir == "" {
		own, err := os.MkdirTemp("", "cajon-foreign-")
		if err != nil {
			return err
		}
		dir = own
	}
	// The host's folder is shared by all its plugins: a name of this
	// process's own, of at most 16 bytes (docs/PLUGINS.md).
	sock := filepath.Join(dir, fmt.Sprintf("plugin%d", os.Getpid()))
	cleanup := func() {
		os.Remove(sock)
		if dir != os.Getenv("PLUGIN_UNIX_SOCKET_DIR") {
			os.RemoveAll(dir)
		}
	}
	defer cleanup()
	lis, err := net.Listen("unix", sock)
	if err != nil {
		return err
	}
	var opts []grpc.ServerOption
	certText := ""
	// AutoMTLS: the host's certificate (PEM) is in PLUGIN_CLIENT_CERT; ours
	// goes back in the handshake line, DER in unpadded base64.
	if clientPEM := os.Getenv("PLUGIN_CLIENT_CERT"); clientPEM != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(clientPEM)) {
			return fmt.Errorf("PLUGIN_CLIENT_CERT holds no certificate")
		}
		cert, err := selfSigned()
		if err != nil {
			return err
		}
		opts = append(opts, grpc.Creds(credentials.NewTLS(&tls.Config{
			Certificates: []tls.Certificate{cert}, ClientCAs: pool, RootCAs: pool,
			ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12,
		})))
		certText = base64.RawStdEncoding.EncodeToString(cert.Certificate[0])
	}
	srv := grpc.NewServer(opts...)
	pluginv1.RegisterPluginServer(srv, &plugin{mode: mode, runs: map[string]context.CancelFunc{}})
	if mode != modeIgnoreLifeline {
		go watchLifeline(cleanup)
	}
	// core protocol | app protocol | network | address | protocol | cert
	fmt.Printf("1|1|unix|%s|grpc|%s\n", sock, certText)
	return srv.Serve(lis)
}

// watchLifeline exits when the host's end of the lifeline closes.
func watchLifeline(cleanup func()) {
	fd, err := strconv.Atoi(os.Getenv("CAJON_LIFELINE_FD"))
	if err != nil {
		return
	}
	f := os.NewFile(uintptr(fd), "lifeline")
	buf := make([]byte, 1)
	for {
		if _, err := f.Read(buf); err != nil {
			break
		}
	}
	if m := os.Getenv(envMarker); m != "" {
		_ = os.WriteFile(m, []byte("lifeline\n"), 0o600)
	}
	cleanup()
	os.Exit(0)
}

// selfSigned makes the server's one-time certificate: for "localhost"
// (go-plugin's client checks that name), usable as its own CA.
func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "localhost"},
		DNSNames:              []string{"localhost"},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

type plugin struct {
	pluginv1.UnimplementedPluginServer
	mode string

	mu   sync.Mutex
	runs map[string]context.CancelFunc
}

func (p *plugin) Describe(_ context.Context, req *pluginv1.DescribeRequest) (*pluginv1.DescribeResponse, error) {
	if f := os.Getenv(envDescribed); f != "" {
		raw, err := protojson.Marshal(req)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(f, raw, 0o600); err != nil {
			return nil, err
		}
	}
	integer := func(name string, def float64, desc string) *pluginv1.ParamSpec {
		return &pluginv1.ParamSpec{Name: name, Type: pluginv1.ParamType_PARAM_TYPE_INTEGER, DefaultValue: structpb.NewNumberValue(def), Description: desc}
	}
	example := func(m map[string]any) *structpb.Struct { s, _ := structpb.NewStruct(m); return s }
	resp := &pluginv1.DescribeResponse{
		Name: "foreign", Version: "0.1.0",
		Commands: []*pluginv1.CommandSpec{
			{
				Name: "count", TaskType: "test", Description: "Count steps, one log line and progress each.",
				Params:  []*pluginv1.ParamSpec{integer("steps", 5, "How many steps."), integer("delay_ms", 20, "Time per step.")},
				Example: example(map[string]any{"steps": 10, "delay_ms": 10}),
			},
			{
				Name: "spawn", TaskType: "test", Description: "Run sleep as a child process.",
				Params:  []*pluginv1.ParamSpec{integer("seconds", 1, "How long the child sleeps.")},
				Example: example(map[string]any{"seconds": 2}),
			},
		},
	}
	switch p.mode {
	case modeBadSchema:
		resp.Commands[1].Name = "count"
		resp.Commands[0].Params[0].DefaultValue = structpb.NewStringValue("five")
		resp.ConfigSchema = &pluginv1.ConfigSchema{Keys: []*pluginv1.ParamSpec{
			{Name: "root", Type: pluginv1.ParamType_PARAM_TYPE_STRING},
			{Name: "root", Type: pluginv1.ParamType_PARAM_TYPE_STRING},
			integer("depth", 2, "")}}
		resp.ConfigSchema.Keys[2].DefaultValue = structpb.NewBoolValue(true)
	case modeNegotiate:
		resp.TypedCapabilities = &pluginv1.Capabilities{Previews: true}
		resp.ConfigSchema = &pluginv1.ConfigSchema{Keys: []*pluginv1.ParamSpec{
			{Name: "root", Type: pluginv1.ParamType_PARAM_TYPE_STRING, Required: true, Description: "Folder the counts are written under."},
			integer("depth", 2, "How deep to count."),
			{Name: "labels", Type: pluginv1.ParamType_PARAM_TYPE_STRING_MAP, Description: "Labels for the log."}}}
		resp.Commands[0].Params = append(resp.Commands[0].Params,
			&pluginv1.ParamSpec{Name: "note", Description: "Declared without a type."},
			&pluginv1.ParamSpec{Name: "colour", Type: pluginv1.ParamType(99), Description: "A type from a newer plugin.proto."})
	}
	return resp, nil
}

func (p *plugin) Cancel(_ context.Context, req *pluginv1.CancelRequest) (*pluginv1.CancelResponse, error) {
	p.mu.Lock()
	cancel, ok := p.runs[req.GetRunId()]
	p.mu.Unlock()
	if ok && p.mode != modeIgnoreCancel {
		cancel()
	}
	return &pluginv1.CancelResponse{Found: ok}, nil
}

func (p *plugin) Run(req *pluginv1.RunRequest, stream pluginv1.Plugin_RunServer) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	p.mu.Lock()
	p.runs[req.GetRunId()] = cancel
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.runs, req.GetRunId())
		p.mu.Unlock()
	}()
	if p.mode == modeIgnoreCancel {
		ctx = context.Background()
	}
	params := req.GetParameters().AsMap()
	num := func(name string, def int) int {
		if v, ok := params[name].(float64); ok {
			return int(v)
		}
		return def
	}
	var err error
	switch req.GetCommand() {
	case "count":
		err = p.count(ctx, stream, num("steps", 5), time.Duration(num("delay_ms", 20))*time.Millisecond)
	case "spawn":
		err = p.spawn(ctx, stream, req.GetRunId(), num("seconds", 1))
	default:
		err = fmt.Errorf("no command %q", req.GetCommand())
	}
	if p.mode == modeNoResult {
		return nil
	}
	res := &pluginv1.Result{Status: pluginv1.Result_STATUS_COMPLETED}
	switch {
	case ctx.Err() != nil:
		res = &pluginv1.Result{Status: pluginv1.Result_STATUS_CANCELED}
	case err != nil:
		res = &pluginv1.Result{Status: pluginv1.Result_STATUS_FAILED, Message: err.Error()}
	}
	return stream.Send(&pluginv1.RunEvent{Event: &pluginv1.RunEvent_Result{Result: res}})
}

func (p *plugin) count(ctx context.Context, stream pluginv1.Plugin_RunServer, steps int, delay time.Duration) error {
	for i := 1; i <= steps; i++ {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		line := fmt.Sprintf("step %d", i)
		done := int64(i)
		if p.mode == modeBadEvents {
			line += "\nsecond line in one"
			done = int64(steps + i) // beyond the total
			_ = stream.Send(&pluginv1.RunEvent{Event: &pluginv1.RunEvent_Output{Output: &pluginv1.Output{}}})
		}
		_ = stream.Send(&pluginv1.RunEvent{Event: &pluginv1.RunEvent_Log{Log: &pluginv1.LogLines{Lines: []string{line}}}})
		_ = stream.Send(&pluginv1.RunEvent{Event: &pluginv1.RunEvent_Progress{Progress: &pluginv1.Progress{
			StepsDone: proto.Int64(done), StepsTotal: proto.Int64(int64(steps)), Activity: proto.String(line)}}})
	}
	return nil
}

// spawn runs sleep in its own process group, tagged with the run id, and
// kills the group when the run is aborted. In leak mode the child starts a
// session of its own instead and is never killed.
func (p *plugin) spawn(ctx context.Context, stream pluginv1.Plugin_RunServer, runID string, seconds int) error {
	cmd := exec.Command("sleep", strconv.Itoa(seconds))
	cmd.Env = append(os.Environ(), "CAJON_RUN_ID="+runID)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if p.mode == modeLeak {
		cmd = exec.Command("sleep", "600")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	pid := cmd.Process.Pid
	_ = stream.Send(&pluginv1.RunEvent{Event: &pluginv1.RunEvent_Child{Child: &pluginv1.ChildProcess{Pid: int64(pid)}}})
	if p.mode == modeLeak {
		_ = cmd.Process.Release()
		return nil
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var err error
	select {
	case err = <-waited:
	case <-ctx.Done():
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		err = <-waited
	}
	code := int64(cmd.ProcessState.ExitCode())
	_ = stream.Send(&pluginv1.RunEvent{Event: &pluginv1.RunEvent_Child{Child: &pluginv1.ChildProcess{Pid: int64(pid), Exited: true, ExitCode: code}}})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil && !strings.Contains(err.Error(), "exit status") {
		return err
	}
	return nil
}
