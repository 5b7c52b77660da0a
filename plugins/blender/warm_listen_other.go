//go:build !linux

package main

import (
	"net"
	"path/filepath"
	"runtime"
)

// maxSocketPath is the longest Unix socket path on macOS and the BSDs
// (sun_path is 104 bytes with its NUL).
const maxSocketPath = 103

// listenPrivate listens where only the session's Blender can connect. On
// macOS and the BSDs: a Unix socket in the private folder (mode 0700), or
// loopback TCP when the folder's path is too long for one. On Windows:
// loopback TCP. Over TCP the token guards the session: every connection
// must send it first, within sessionAuthWait, and is served on its own
// (accept), so connections that do not cannot hold the driver's up.
func listenPrivate(dir, _ string) (net.Listener, string, error) {
	path := filepath.Join(dir, "s")
	if runtime.GOOS != "windows" && len(path) <= maxSocketPath {
		if ln, err := net.Listen("unix", path); err == nil {
			return ln, "unix", nil
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	return ln, "tcp", err
}

// peerIsUs: the private folder's mode keeps other users off the Unix
// socket; over TCP the token is the check.
func peerIsUs(net.Conn) bool { return true }
