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

// privateSuffix is the longest path privateDir and go-plugin add to the
// runtime folder: a private folder ("p" and a random uint32, os.MkdirTemp)
// and the socket in it.
const privateSuffix = "/p4294967295/" + socketName

// OpenRunDir opens the process's runtime folder (host/rundir) in stateDir,
// or in the system's temporary folder when the state dir's path is too
// long for the plugins' sockets (Windows: always in the state dir).
func OpenRunDir(stateDir string) (*rundir.Dir, error) {
	maxLen := 0
	if runtime.GOOS != "windows" {
		maxLen = maxSocketPath() - len(privateSuffix)
	}
	d, err := rundir.Open(stateDir, maxLen)
	if err != nil {
		return nil, fmt.Errorf("plugins: %w", err)
	}
	return d, nil
}

// privateDir makes the private folder of one process of plugin name in
// runDir (the process's runtime folder; "" = the system's temporary folder,
// for tests). A socket path in it that would be too long is an error that
// names the path, its length, the limit and the fix.
func privateDir(runDir, name string) (string, error) {
	where := runDir
	if where == "" {
		where = os.TempDir()
	}
	dir, err := os.MkdirTemp(where, "p")
	if err != nil {
		return "", fmt.Errorf("plugin %s: making its private folder in %s: %w", name, where, err)
	}
	if runtime.GOOS == "windows" {
		return dir, nil // go-plugin uses loopback TCP there
	}
	sock := filepath.Join(dir, socketName)
	if len(sock) > maxSocketPath() {
		os.RemoveAll(dir)
		fix := "set a shorter state_dir (CAJON_STATE_DIR) or TMPDIR"
		if runDir == "" {
			fix = "set a shorter TMPDIR"
		}
		return "", fmt.Errorf("plugin %s: its socket path %s would be %d bytes, longer than the %d a Unix socket path may have: %s",
			name, sock, len(sock), maxSocketPath(), fix)
	}
	return dir, nil
}

// pluginEnv is the environment of a plugin process: the host's, without
// anything that would redirect go-plugin's socket, then extra. go-plugin
// would append the host's environment after ours (SkipHostEnv off), so that
// an inherited PLUGIN_UNIX_SOCKET_DIR would win.
func pluginEnv(dir string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, goplugin.EnvUnixSocketDir+"=") && !strings.HasPrefix(kv, wire.EnvPrivateDir+"=") {
			env = append(env, kv)
		}
	}
	env = append(env, goplugin.EnvUnixSocketDir+"="+dir, wire.EnvPrivateDir+"="+dir)
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

// removeDir removes the process's private folder, once it ended.
func (i *instance) removeDir() {
	if i.dir != "" {
		os.RemoveAll(i.dir)
	}
}
