// Package version tells which build of Cajon is running.
package version

import "runtime"

// Version is the Cajon release, set at link time with
// -ldflags "-X github.com/cajonfarm/cajon/host/version.Version=v1.2.3".
//
// It is the one package-level variable in the project that is not a constant:
// the Go linker can only set a string variable, and a build stamp must live in
// exactly one place so every part of the binary (User-Agent, sign-on's
// software_version, `cajon version`, plugin handshakes) reports the same value.
// Nothing at run time writes to it.
var Version = "dev"

// UserAgent is the HTTP User-Agent Cajon sends, e.g.
// "cajon/v1.2.3 (linux/amd64)", so a Manager's logs and proxies can tell which
// worker software and platform made a request.
func UserAgent() string {
	return "cajon/" + Version + " (" + runtime.GOOS + "/" + runtime.GOARCH + ")"
}
