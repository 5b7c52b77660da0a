package wire

import (
	"strings"

	goplugin "github.com/hashicorp/go-plugin"
)

// IsPlumbing reports whether the environment entry kv ("NAME=value") is one
// of the variables that start and connect a plugin (the handshake's cookie,
// the lifeline, the host's folder, go-plugin's), which the commands it runs must not see. Names
// compare without regard to case, as Windows compares them.
// CAJON_RUN_ID, the containment tag of a command's processes, is not
// plumbing: the process sweep needs it in the command's environment.
func IsPlumbing(kv string) bool {
	name, _, _ := strings.Cut(kv, "=")
	switch strings.ToUpper(name) {
	case magicCookieKey, EnvLifelineFD, EnvLifelineHandle, EnvHostDir,
		// What go-plugin's client sets: ports, protocol versions, the client
		// certificate of AutoMTLS, socket settings.
		"PLUGIN_MIN_PORT", "PLUGIN_MAX_PORT", "PLUGIN_PROTOCOL_VERSIONS", "PLUGIN_CLIENT_CERT",
		"PLUGIN_MULTIPLEX_GRPC", goplugin.EnvUnixSocketDir, goplugin.EnvUnixSocketGroup:
		return true
	}
	return false
}

// WithoutPlumbing returns env without the plugin's plumbing (IsPlumbing):
// the environment a plugin gives the commands it runs.
func WithoutPlumbing(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !IsPlumbing(kv) {
			out = append(out, kv)
		}
	}
	return out
}
