package main

import (
	"context"
	"fmt"
	"runtime"

	"github.com/cajonfarm/cajon/host/version"
	"github.com/cajonfarm/cajon/sdk"
	"github.com/cajonfarm/cajon/sdk/wire"
)

func cmdVersion(_ context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "version", "version", "Print Cajon's version, its plugin SDK version and platform.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "cajon %s (plugin SDK %s, protocol %d, %s/%s, %s)\n",
		version.Version, sdk.Version, wire.ProtocolVersion, runtime.GOOS, runtime.GOARCH, runtime.Version())
	return nil
}

// isVersionFlag reports whether a is one of the flags that stand for
// `cajon version`, as other tools have them.
func isVersionFlag(a string) bool {
	switch a {
	case "--version", "-version", "-v", "-V":
		return true
	}
	return false
}
