package sdk

import (
	goplugin "github.com/hashicorp/go-plugin"
)

// ProtocolVersion is the major version of the cajon.plugin.v1 protocol. The
// host refuses plugins that speak another major version.
const ProtocolVersion = 1

// Version is the version of this SDK, reported to the host by Describe.
const Version = "1.0.0"

// PluginKey is the name under which the Cajon plugin service is dispensed.
const PluginKey = "cajon"

// Environment variables the host sets for a plugin.
const (
	// EnvLifelineFD names the file descriptor of the lifeline pipe: when it
	// reads EOF, the host is stopping the plugin or is gone: the plugin must
	// end its commands, clean up and exit.
	EnvLifelineFD = "CAJON_LIFELINE_FD"
	// EnvRunID is set in the environment of every process a command starts;
	// the containment sweep uses it to find processes that left their group.
	EnvRunID = "CAJON_RUN_ID"
)

// Handshake returns the go-plugin handshake shared by the host and every
// plugin. The magic cookie is not a security measure: it only stops a user
// from running a plugin binary by hand by mistake.
func Handshake() goplugin.HandshakeConfig {
	return goplugin.HandshakeConfig{
		ProtocolVersion:  ProtocolVersion,
		MagicCookieKey:   "CAJON_PLUGIN",
		MagicCookieValue: "cajon-plugin-v1",
	}
}
