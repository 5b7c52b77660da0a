package plugins

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/cajonfarm/cajon/host/rundir"
	"github.com/cajonfarm/cajon/sdk/wire"
	goplugin "github.com/hashicorp/go-plugin"
)

// socketName is the longest name go-plugin's server gives its Unix socket in
// PLUGIN_UNIX_SOCKET_DIR ("plugin" and a random uint32, os.CreateTemp).
const socketName = "plugin4294967295"

// maxSocketPath is the longest path a Unix socket may have, without the
// terminating NUL of sockaddr_un.sun_path (108 bytes on Linux, 104 on macOS
// and the BSDs).
func maxSocketPath() int {
	if runtime.GOOS == "linux" {
		return 107
	}
	return 103
}

// OpenRunDir opens the process's runtime folder (host/rundir) in stateDir,
// or in the system's temporary folder when the state dir's path is too
// long for the plugins' sockets, which go-plugin makes in it (Windows:
// always in the state dir: go-plugin uses loopback TCP there).
func OpenRunDir(stateDir string) (*rundir.Dir, error) {
	maxLen := 0
	if runtime.GOOS != "windows" {
		maxLen = maxSocketPath() - len(string(filepath.Separator)+socketName)
	}
	d, err := rundir.Open(stateDir, maxLen)
	if err != nil {
		return nil, fmt.Errorf("plugins: %w", err)
	}
	return d, nil
}

// processDirs are the folders of one plugin process: sockets is where its
// go-plugin socket goes (the runtime folder, shared by the process's
// plugins), private a folder of its own, removed when it ended.
type processDirs struct {
	sockets, private string
}

// newProcessDirs makes the folders of one process of plugin name in runDir
// (the process's runtime folder; "" = the system's temporary folder, for
// tests). A socket path that would be too long is an error that names the
// path, its length, the limit and the fix.
func newProcessDirs(runDir, name string) (processDirs, error) {
	where, prefix := runDir, ""
	if where == "" {
		where, prefix = os.TempDir(), "cajon-plugin-"
	}
	if runtime.GOOS != "windows" { // go-plugin uses loopback TCP there
		if sock := filepath.Join(where, socketName); len(sock) > maxSocketPath() {
			fix := "set a shorter state_dir (CAJON_STATE_DIR) or TMPDIR"
			if runDir == "" {
				fix = "set a shorter TMPDIR"
			}
			return processDirs{}, fmt.Errorf("plugin %s: its socket path %s would be %d bytes, longer than the %d a Unix socket path may have: %s",
				name, sock, len(sock), maxSocketPath(), fix)
		}
	}
	private, err := os.MkdirTemp(where, prefix+name+"-")
	if err != nil {
		return processDirs{}, fmt.Errorf("plugin %s: making its private folder in %s: %w", name, where, err)
	}
	return processDirs{sockets: where, private: private}, nil
}

// pluginEnv is the environment of a plugin process: the host's, without
// anything that would redirect go-plugin's socket or the private folder,
// then the folders and extra. (go-plugin would append the host's
// environment after ours, SkipHostEnv off, and an inherited
// PLUGIN_UNIX_SOCKET_DIR would win.)
func pluginEnv(dirs processDirs, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, goplugin.EnvUnixSocketDir+"=") && !strings.HasPrefix(kv, wire.EnvPrivateDir+"=") {
			env = append(env, kv)
		}
	}
	env = append(env, goplugin.EnvUnixSocketDir+"="+dirs.sockets, wire.EnvPrivateDir+"="+dirs.private)
	return append(env, extra...)
}

// abandonStartWait bounds go-plugin's Kill of a plugin whose start failed:
// it waits for the plugin's output to end, which a process that escaped the
// kill may hold open.
const abandonStartWait = 5 * time.Second

// abandonStart ends a plugin whose start failed: its process tree first,
// then go-plugin's side of it.
func abandonStart(client *goplugin.Client, cmd *exec.Cmd) {
	_ = killStarted(cmd)
	done := make(chan struct{})
	go func() {
		client.Kill()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(abandonStartWait):
	}
}

// removeDir removes the process's private folder and its socket, once it
// ended: a plugin that is killed does not remove its socket.
func (i *instance) removeDir() {
	if i.dir != "" {
		rundir.RemoveTree(i.dir)
	}
	if i.sock != "" {
		os.Remove(i.sock)
	}
}

// socketOf is the path of a started plugin's Unix socket, "" for TCP.
func socketOf(client *goplugin.Client) string {
	rc := client.ReattachConfig()
	if rc == nil || rc.Addr == nil || rc.Addr.Network() != "unix" {
		return ""
	}
	return rc.Addr.String()
}
