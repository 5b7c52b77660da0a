package faults

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/cajonfarm/cajon/internal/testbin"
	"github.com/cajonfarm/cajon/sdk/proctree"
)

// binDir holds the cajon binary and the plugins, built once by TestMain:
// bin/cajon and bin/plugins/cajon-plugin-{exec,testkit}.
var binDir string

// suiteEnv must be "1" for the suite to run: it takes a minute or two and
// runs once in CI through `make faults`, not again in every `go test ./...`.
const suiteEnv = "FAULT_SUITE"

// fsizeEnv makes the test binary a launcher instead of a test run: it lowers
// its own RLIMIT_FSIZE to the variable's value (bytes) and execs its
// arguments. The queue-disk-full scenario starts the real cajon this way.
const fsizeEnv = "FAULTS_EXEC_WITH_FSIZE"

// nofileEnv is fsizeEnv for RLIMIT_NOFILE (soft and hard, so that Go's
// raise of the soft limit at start cannot undo it): the metrics-flood
// scenario starts the real cajon with few file descriptors this way.
const nofileEnv = "FAULTS_EXEC_WITH_NOFILE"

func TestMain(m *testing.M) {
	if os.Getenv(fsizeEnv) != "" || os.Getenv(nofileEnv) != "" {
		execWithLimits(os.Args[1:])
		return
	}
	if os.Getenv(suiteEnv) != "1" {
		os.Exit(m.Run()) // TestFault skips: nothing to build
	}
	// Like the cajon host: orphans of a plugin or of a killed cajon
	// reparent to this process, so the leftover checks can find them.
	if err := proctree.SetSubreaper(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(testbin.Main(m, &binDir, "exec", "testkit"))
}

// execWithLimits replaces this process with args under the limits that
// fsizeEnv and nofileEnv set. Go ignores SIGXFSZ, so a write past the file
// size limit fails with EFBIG ("file too large"), as a full disk fails with
// ENOSPC.
func execWithLimits(args []string) {
	limits := []struct {
		env      string
		resource int
	}{{fsizeEnv, syscall.RLIMIT_FSIZE}, {nofileEnv, syscall.RLIMIT_NOFILE}}
	env := os.Environ()
	for _, l := range limits {
		value := os.Getenv(l.env)
		if value == "" {
			continue
		}
		n, err := strconv.ParseUint(value, 10, 64)
		if err != nil || len(args) == 0 {
			fmt.Fprintf(os.Stderr, "%s=%q: want a number and a command to run\n", l.env, value)
			os.Exit(2)
		}
		if err := syscall.Setrlimit(l.resource, &syscall.Rlimit{Cur: n, Max: n}); err != nil {
			fmt.Fprintf(os.Stderr, "setrlimit %s %d: %v\n", l.env, n, err)
			os.Exit(2)
		}
		env = slices.DeleteFunc(env, func(kv string) bool { return strings.HasPrefix(kv, l.env+"=") })
	}
	err := syscall.Exec(args[0], args, env)
	fmt.Fprintf(os.Stderr, "exec %s: %v\n", args[0], err)
	os.Exit(2)
}
