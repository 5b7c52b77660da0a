// Package wire is the contract between the Cajon host and a plugin, beyond
// the messages of cajon.plugin.v1 (sdk/proto): the go-plugin handshake, the
// environment the host sets, the size limit of a message, how parameters are
// checked and normalised, which outputs are previews, and a run's events as
// plain Go values (Deliver: the one decoder of a Run stream).
//
// The host and the SDK both use it, so that each rule has one definition.
// Plugin authors do not need it: package sdk is their API. A plugin written
// without the SDK, in Go or another language, follows the same rules as
// docs/PLUGINS.md describes them.
package wire
