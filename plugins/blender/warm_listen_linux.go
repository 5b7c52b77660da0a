package main

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// listenPrivate listens where the session's Blender connects: on Linux an
// abstract Unix socket, which has no path (so no length limit and nothing
// on disk to leave behind) and needs no TCP. Anyone on the machine may
// connect to an abstract socket: peerIsUs drops connections of other users,
// and the token the rest that are not the driver's.
func listenPrivate(string, string) (net.Listener, string, error) {
	id := make([]byte, 12)
	if _, err := rand.Read(id); err != nil {
		return nil, "", err
	}
	ln, err := net.Listen("unix", "@cajon-warm-"+hex.EncodeToString(id))
	return ln, "unix", err
}

// peerIsUs reports whether the process at the other end of c runs as this
// process's user (SO_PEERCRED).
func peerIsUs(c net.Conn) bool {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return false
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return false
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil || credErr != nil {
		return false
	}
	return int(cred.Uid) == os.Getuid()
}
