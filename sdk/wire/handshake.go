package wire

import (
	"time"

	goplugin "github.com/hashicorp/go-plugin"
)

// ProtocolVersion is the major version of the cajon.plugin.v1 protocol. The
// host refuses plugins that speak another major version.
const ProtocolVersion = 1

// PluginKey is the name under which the Cajon plugin service is dispensed.
const PluginKey = "cajon"

// Environment variables the host sets for a plugin.
const (
	// EnvLifelineFD names the file descriptor of the lifeline pipe (Unix):
	// when it reads EOF, the host is stopping the plugin or is gone: the
	// plugin must end its commands, clean up and exit.
	EnvLifelineFD = "CAJON_LIFELINE_FD"
	// EnvHostDir is the folder of the host's executable (symbolic links
	// resolved), where a Flamenco worker bundle keeps its tools/ folder: a
	// plugin looks there for bundled programs (FFmpeg), as the stock worker
	// looks beside itself. Unset when the host cannot tell.
	EnvHostDir = "CAJON_HOST_DIR"
	// EnvLifelineHandle is EnvLifelineFD on Windows, which passes no file
	// descriptors to a child: the value of an inherited handle to the read
	// end of the lifeline pipe, in decimal. Reading it fails with
	// ERROR_BROKEN_PIPE (EOF) when the host stops the plugin or is gone.
	EnvLifelineHandle = "CAJON_LIFELINE_HANDLE"
	// EnvPrivateDir names a folder private to the plugin process (mode
	// 0700, under the host's state dir): its go-plugin socket, and files
	// that must not outlive the process, go there. The host makes it
	// before the start and removes it when the process ended.
	EnvPrivateDir = "CAJON_PLUGIN_PRIVATE_DIR"
)

// ExitTime is how long a plugin has to exit after its lifeline reads EOF,
// before the host kills it with its whole process tree. In that time the
// plugin aborts what still runs and sweeps its descendants; the Go SDK takes
// at most 3 s for that (1 s for its commands, 2 s for the sweep).
const ExitTime = 4 * time.Second

// MaxMessageBytes is the largest gRPC message between the host and a plugin,
// in either direction: the host's dial options and the SDK's server options
// both use it. gRPC's own default (4 MiB to receive, unlimited to send) would
// let a host send a request the plugin cannot read. The host refuses a
// request above this before sending it; a plugin written without the SDK
// should accept messages of this size.
const MaxMessageBytes = 16 << 20

// magicCookieKey is the variable of the handshake's magic cookie.
const magicCookieKey = "CAJON_PLUGIN"

// Handshake returns the go-plugin handshake shared by the host and every
// plugin. The magic cookie is not a security measure: it only stops a user
// from running a plugin binary by hand by mistake.
func Handshake() goplugin.HandshakeConfig {
	return goplugin.HandshakeConfig{
		ProtocolVersion:  ProtocolVersion,
		MagicCookieKey:   magicCookieKey,
		MagicCookieValue: "cajon-plugin-v1",
	}
}
