package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cajonfarm/cajon/plugins/internal/cmdline"
	"github.com/cajonfarm/cajon/sdk/process"
	"github.com/cajonfarm/cajon/sdk/wire"
)

// driverScript runs inside the warm Blender (see its header).
//
//go:embed warm_driver.py
var driverScript []byte

// Limits of a warm session.
const (
	// sessionIdleLines is how much of what Blender prints between tasks
	// (reloading the file) is kept for the next task's log.
	sessionIdleLines = 500
	// sessionQuitWait is how long a warm Blender asked to quit gets before
	// it is terminated.
	sessionQuitWait = 10 * time.Second
	// sessionAuthWait bounds the wait for a connection's token, its first
	// line: the driver sends it as soon as it connected.
	sessionAuthWait = 2 * time.Second
	// sessionAnswerWait is how long a ready driver has to answer a task
	// (it answers as soon as it read the task's arguments): a Blender that
	// does not is killed with its tree, and the task renders cold.
	sessionAnswerWait = 5 * time.Second
	// sessionEnv carries "<token> <network> <address>" to the driver.
	sessionEnv = "CAJON_BLENDER_WARM"
	// markerPrefix starts the driver's answers on stdout (then the token).
	markerPrefix = "cajon-warm:"
)

// driverEvent is one answer of the driver.
type driverEvent struct {
	Ev       string  `json:"ev"` // hello, start, done, unsupported, failed, ready
	ID       int     `json:"id"`
	Why      string  `json:"why"`
	Version  string  `json:"version"`
	Reusable bool    `json:"reusable"`
	ReloadS  float64 `json:"reload_s"` // seconds the reload took
	// ExitCode is the status a cold Blender would have exited with ("done"):
	// a script's sys.exit, or a failed script after --python-exit-code.
	ExitCode int `json:"exit_code"`
	// Started: an "unsupported" found only after the task started (a
	// script changed the scene before an argument the driver must check).
	Started bool `json:"started"`
}

// warmCall is a request waiting for its answer.
type warmCall struct {
	id       int
	out      *renderOutput
	begin    func()        // logs the task's first lines, when the driver starts it
	answered chan struct{} // closed at the driver's first answer to it
	result   chan driverEvent
}

// session is one warm Blender with the scene loaded, and the driver in it.
// The pool (warm.go) decides which task uses it; a session serves one task
// at a time.
type session struct {
	key   string
	jobID string

	// Guarded by the pool's lock.
	busy      bool
	tasks     int // tasks it rendered
	idleTimer *time.Timer

	token     string
	marker    string
	done      chan struct{} // closed once Blender exited and its tree is gone (or never started)
	connected chan struct{} // closed when the driver connected

	mu         sync.Mutex
	conn       net.Conn // the driver's connection, once connected is closed
	res        process.Result
	runErr     error
	cancel     context.CancelFunc // ends Blender; nil until it starts
	killed     bool               // kill was called
	pid        int
	started    time.Time
	version    string
	hello      chan struct{} // closed when the driver is up
	helloDone  bool
	ready      chan struct{} // closed when the driver waits for a task
	reusable   bool
	notReuse   string // why it is not reusable
	waiting    *warmCall
	out        *renderOutput // the task Blender's output goes to now
	idle       []string      // output between tasks, for the next task
	idleLeft   int           // lines of it left out
	tail       *cmdline.Tail // the last lines, for failure messages
	lastID     int
	reloadTook time.Duration // how long the last reload took
	loadTook   time.Duration // how long Blender took to start with the file
	onReady    func()        // the pool's check after each reload
	onExited   func()        // the pool's, once Blender ended
	lastOutput []string      // tail when Blender ended
}

func newSession(key, jobID string) *session {
	return &session{
		key: key, jobID: jobID,
		done: make(chan struct{}), hello: make(chan struct{}), ready: make(chan struct{}), connected: make(chan struct{}),
		tail: cmdline.NewTail(outputTail),
	}
}

// sessionStart is how to start a session's Blender.
type sessionStart struct {
	exe    string
	prefix []string // exeArgs, argsBefore, blend file
	dir    string   // working folder
	env    []string // full environment
	tag    string   // CAJON_RUN_ID of the session's processes
	grace  time.Duration
	device string // the Cycles device (device.go); "" = the scene's
}

// start starts Blender with the driver; it returns at once (waitReady
// waits for the scene). The session ends with stop or kill.
func (s *session) start(ctx context.Context, st sessionStart) error {
	if err := s.launch(ctx, st); err != nil {
		s.mu.Lock()
		s.runErr = err
		s.mu.Unlock()
		close(s.done)
		return err
	}
	return nil
}

func (s *session) launch(ctx context.Context, st sessionStart) error {
	tok := make([]byte, 16)
	if _, err := rand.Read(tok); err != nil {
		return fmt.Errorf("warm session token: %w", err)
	}
	s.token = hex.EncodeToString(tok)
	s.marker = markerPrefix + s.token + " "
	// In the plugin process's private folder, which the host removes when
	// the plugin ends and sweeps at its start: a SIGKILL of the plugin
	// while Blender starts leaves nothing in the system's temporary folder.
	dir, err := os.MkdirTemp(os.Getenv(wire.EnvPrivateDir), "cajon-warm-")
	if err != nil {
		return fmt.Errorf("warm session folder: %w", err)
	}
	fail := func(err error) error {
		os.RemoveAll(dir)
		return err
	}
	script := filepath.Join(dir, "driver.py")
	if err := os.WriteFile(script, driverScript, 0o600); err != nil {
		return fail(fmt.Errorf("writing the warm session driver: %w", err))
	}
	ln, network, err := listenPrivate(dir, s.token)
	if err != nil {
		return fail(fmt.Errorf("warm session socket: %w", err))
	}
	// Blender 5 prints "Saved:" only with render logging on, which its own
	// --render-frame turns on; older ones print it anyway.
	args := append(append([]string(nil), st.prefix...), "--log", "render.*", "--python", script)
	if st.device != "" {
		args = append(args, "--", cyclesDeviceOption, st.device)
	}
	env := append(append([]string(nil), st.env...), sessionEnv+"="+s.token+" "+network+" "+ln.Addr().String())
	env = append(env, privateTemp()...)
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.mu.Lock()
	s.cancel = cancel
	s.started = time.Now()
	if s.killed {
		cancel() // killed while it was being set up
	}
	s.mu.Unlock()
	go s.accept(ln, dir)
	go func() {
		res, err := process.Run(pctx, process.Command{
			Path: st.exe, Args: args, Env: env, Dir: st.dir, Tag: st.tag, Grace: st.grace,
			OnStart: func(pid int) {
				s.mu.Lock()
				s.pid = pid
				s.mu.Unlock()
			},
			OnLine: s.onLine,
		})
		ln.Close()
		cancel()
		os.RemoveAll(dir)
		s.mu.Lock()
		s.res, s.runErr = res, err
		s.out, s.waiting = nil, nil
		s.lastOutput = append([]string(nil), s.tail.Lines()...)
		onExited, conn := s.onExited, s.conn
		s.mu.Unlock()
		if conn != nil {
			conn.Close()
		}
		close(s.done)
		if onExited != nil {
			onExited()
		}
	}()
	return nil
}

// accept takes the driver's connection: the first one that sends the
// token. Each connection is served on its own, and one that does not send
// the token within sessionAuthWait is dropped, so silent connections of
// someone else cannot delay the driver's. Then the private folder has
// served its purpose (Blender has read the driver, the socket is
// connected) and goes, so that not even a SIGKILL of the plugin can leave
// it behind.
func (s *session) accept(ln net.Listener, dir string) {
	var once sync.Once
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			if !authenticated(c, s.token) {
				c.Close()
				return
			}
			won := false
			once.Do(func() {
				won = true
				s.mu.Lock()
				s.conn = c
				s.mu.Unlock()
				close(s.connected)
				ln.Close()
				os.RemoveAll(dir)
			})
			if !won {
				c.Close()
			}
		}()
	}
}

// authenticated reads a connection's first line within sessionAuthWait and
// reports whether it is the token. It reads byte by byte, so that nothing
// after the line is taken from the connection, and no further than a
// token's length.
func authenticated(c net.Conn, token string) bool {
	if !peerIsUs(c) {
		return false
	}
	_ = c.SetReadDeadline(time.Now().Add(sessionAuthWait))
	defer c.SetReadDeadline(time.Time{})
	got := make([]byte, 0, len(token)+1)
	b := make([]byte, 1)
	for len(got) <= len(token)+1 {
		if _, err := io.ReadFull(c, b); err != nil {
			return false
		}
		if b[0] == '\n' {
			line := strings.TrimSuffix(string(got), "\r")
			return subtle.ConstantTimeCompare([]byte(line), []byte(token)) == 1
		}
		got = append(got, b[0])
	}
	return false
}

// noAnswer kills a warm Blender that did not answer a task with its
// process tree, and says so: the task then renders cold.
func (s *session) noAnswer() error {
	s.mu.Lock()
	pid := s.pid
	s.mu.Unlock()
	s.kill()
	return fmt.Errorf("the warm Blender (pid %d) did not answer the task within %s (stopped or hung?): it was killed with its process tree", pid, sessionAnswerWait)
}

// errSessionEnded means the warm Blender exited.
var errSessionEnded = errors.New("the warm Blender exited")

// waitReady waits until the driver can take a task: after start, or after
// it reloaded the file following the last task. A reload may take a few
// times as long as Blender's start with the file did, and sessionAnswerWait
// more: a Blender still reloading then is stopped or hung, and is killed
// with its tree.
func (s *session) waitReady(ctx context.Context) error {
	s.mu.Lock()
	hello, ready := s.hello, s.ready
	reloading, loadTook := s.helloDone, s.loadTook
	s.mu.Unlock()
	var reloadLimit <-chan time.Time
	if reloading {
		t := time.NewTimer(reloadWait(loadTook))
		defer t.Stop()
		reloadLimit = t.C
	}
	for _, ch := range []chan struct{}{s.connected, hello, ready} {
		select {
		case <-ch:
		case <-s.done:
			return errSessionEnded
		case <-ctx.Done():
			return ctx.Err()
		case <-reloadLimit:
			s.mu.Lock()
			pid := s.pid
			s.mu.Unlock()
			s.kill()
			return fmt.Errorf("the warm Blender (pid %d) did not finish reloading the scene within %s (its start took %s; stopped or hung?): it was killed with its process tree",
				pid, reloadWait(loadTook), loadTook.Round(100*time.Millisecond))
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.reusable {
		return fmt.Errorf("the warm Blender cannot be reused: %s", s.notReuse)
	}
	return nil
}

// reloadWait bounds the reload of a scene whose Blender took loadTook to
// start with it.
func reloadWait(loadTook time.Duration) time.Duration {
	return 3*loadTook + sessionAnswerWait
}

// errNoAnswerAfterFrames means the warm Blender saved every frame of the
// task but did not answer within exit_timeout: it was killed with its tree.
var errNoAnswerAfterFrames = errors.New("the warm Blender did not answer after its frames")

// render sends a task to the driver and waits for its answer. out gets
// Blender's output from the moment the driver starts the task (begin is
// called then, to log the task's first lines). A Blender that saved every
// frame of the task and then does not answer within exitTimeout (0: no
// limit) is killed with its tree (errNoAnswerAfterFrames).
func (s *session) render(ctx context.Context, wt warmTask, tag string, out *renderOutput, exitTimeout time.Duration, begin func()) (driverEvent, error) {
	s.mu.Lock()
	s.lastID++
	call := &warmCall{id: s.lastID, out: out, begin: begin, answered: make(chan struct{}), result: make(chan driverEvent, 1)}
	s.waiting = call
	s.ready = make(chan struct{})
	conn := s.conn
	s.mu.Unlock()
	req, err := json.Marshal(map[string]any{"op": "render", "id": call.id, "tag": tag, "argv": wt.argv, "args": wt.args})
	if err != nil {
		return driverEvent{}, err
	}
	_ = conn.SetWriteDeadline(time.Now().Add(sessionAnswerWait))
	if _, err := conn.Write(append(req, '\n')); err != nil {
		select {
		case <-s.done:
			return driverEvent{}, errSessionEnded
		case <-time.After(time.Second):
		}
		return driverEvent{}, fmt.Errorf("sending the task to the warm Blender: %w", err)
	}
	// A ready driver answers at once; one that does not (a stopped or hung
	// Blender) would hold the task for ever.
	noAnswer := time.NewTimer(sessionAnswerWait)
	defer noAnswer.Stop()
	select {
	case <-call.answered:
	case <-s.done:
		return driverEvent{}, errSessionEnded
	case <-ctx.Done():
		return driverEvent{}, ctx.Err()
	case <-noAnswer.C:
		return driverEvent{}, s.noAnswer()
	}
	// As a cold Blender must exit, the warm one must answer once it is
	// through with the task's frames; a handler of the scene's that hangs
	// after the last one would hold the task for ever.
	finished := out.finished
	if exitTimeout <= 0 {
		finished = nil
	}
	var silent <-chan time.Time
	for {
		select {
		case ev := <-call.result:
			return ev, nil
		case <-s.done:
			return driverEvent{}, errSessionEnded
		case <-ctx.Done():
			return driverEvent{}, ctx.Err()
		case <-finished:
			finished = nil
			t := time.NewTimer(exitTimeout)
			defer t.Stop()
			silent = t.C
		case <-silent:
			s.kill()
			return driverEvent{}, errNoAnswerAfterFrames
		}
	}
}

// onLine takes every line Blender prints: the driver's answers, and output
// for the task being rendered or, between tasks, for the next one.
func (s *session) onLine(_ process.Stream, line string) {
	if i := strings.Index(line, s.marker); i >= 0 {
		if i > 0 {
			s.text(line[:i])
		}
		s.event(line[i+len(s.marker):])
		return
	}
	s.text(line)
}

func (s *session) text(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tail.Add(line)
	if s.out != nil {
		s.out.line(line)
		return
	}
	if len(s.idle) == sessionIdleLines {
		s.idle = s.idle[1:]
		s.idleLeft++
	}
	s.idle = append(s.idle, strings.Clone(line))
}

func (s *session) event(text string) {
	var ev driverEvent
	if err := json.Unmarshal([]byte(text), &ev); err != nil {
		s.text("cajon-plugin-blender: the warm session's driver sent a line it should not: " + text)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch ev.Ev {
	case "hello":
		if !s.helloDone {
			s.helloDone = true
			s.loadTook = time.Since(s.started)
			s.version = ev.Version
			s.reusable = true
			close(s.hello)
			close(s.ready)
		}
	case "start":
		if w := s.waiting; w != nil && w.id == ev.ID {
			close(w.answered)
			s.out = w.out
			w.begin()
			if s.idleLeft > 0 {
				s.out.run.Logf("cajon-plugin-blender: (%d earlier lines of the warm session left out)", s.idleLeft)
			}
			for _, l := range s.idle {
				s.out.line(l)
			}
			s.idle, s.idleLeft = nil, 0
		}
	case "done", "unsupported", "failed":
		if w := s.waiting; w != nil && w.id == ev.ID {
			s.out, s.waiting = nil, nil
			if !isClosed(w.answered) {
				close(w.answered) // "unsupported" is the only answer
			}
			w.result <- ev
		}
	case "ready":
		s.reusable, s.notReuse = ev.Reusable, ev.Why
		s.reloadTook = time.Duration(ev.ReloadS * float64(time.Second))
		select {
		case <-s.ready:
		default:
			close(s.ready)
		}
		if s.onReady != nil {
			go s.onReady()
		}
	}
}

// stop ends the session: the driver is asked to quit (Blender then exits as
// at the end of a cold render, tidying up), then it is terminated if it is
// still there after sessionQuitWait. It returns once Blender is gone.
func (s *session) stop() {
	s.mu.Lock()
	conn := s.conn
	s.mu.Unlock()
	if conn != nil {
		conn.Close()
	}
	select {
	case <-s.done:
		return
	case <-time.After(sessionQuitWait):
	}
	s.kill()
}

// kill terminates the session's whole process tree (TERM, grace, KILL) and
// waits until it is gone.
func (s *session) kill() {
	s.mu.Lock()
	s.killed = true
	cancel := s.cancel
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	<-s.done
}

// readyCh is closed when the driver waits for a task.
func (s *session) readyCh() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ready
}

// info says which Blender this is, for the task log.
func (s *session) info() (pid int, version string, age, reload time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pid, s.version, time.Since(s.started), s.reloadTook
}

// ended says how the session's Blender ended and what it printed last; call
// it once done is closed.
func (s *session) ended() (process.Result, error, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.res, s.runErr, s.lastOutput
}

// privateTemp points a warm Blender's temporary folder (Blender's own
// blender_* session folder) at the plugin's private folder: the host
// removes that when the plugin ends, so a warm Blender killed with the
// plugin leaves nothing in the system's temporary folder. Without a private
// folder (the plugin started by hand) it is nothing.
func privateTemp() []string {
	dir := os.Getenv(wire.EnvPrivateDir)
	if dir == "" {
		return nil
	}
	return []string{"TMPDIR=" + dir, "TEMP=" + dir, "TMP=" + dir}
}

// environ is the environment a Blender of run gets: the plugin's own plus
// the run's extra variables, as sdk.Run.Exec gives them.
func environ(extra map[string]string) []string {
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	env := os.Environ()
	for _, k := range keys {
		env = append(env, k+"="+extra[k])
	}
	return env
}
