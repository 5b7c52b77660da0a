package faults

import (
	"fmt"
	"os"
	"strconv"
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

func TestMain(m *testing.M) {
	if limit := os.Getenv(fsizeEnv); limit != "" {
		execWithFileSizeLimit(limit, os.Args[1:])
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

// execWithFileSizeLimit replaces this process with args under a file size
// limit. Go ignores SIGXFSZ, so a write past the limit fails with EFBIG
// ("file too large"), as a full disk fails with ENOSPC.
func execWithFileSizeLimit(limit string, args []string) {
	n, err := strconv.ParseUint(limit, 10, 64)
	if err != nil || len(args) == 0 {
		fmt.Fprintf(os.Stderr, "%s=%q: want a byte count and a command to run\n", fsizeEnv, limit)
		os.Exit(2)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: n, Max: n}); err != nil {
		fmt.Fprintf(os.Stderr, "setrlimit RLIMIT_FSIZE %d: %v\n", n, err)
		os.Exit(2)
	}
	env := make([]string, 0, len(os.Environ()))
	for _, kv := range os.Environ() {
		if len(kv) < len(fsizeEnv)+1 || kv[:len(fsizeEnv)+1] != fsizeEnv+"=" {
			env = append(env, kv)
		}
	}
	err = syscall.Exec(args[0], args, env)
	fmt.Fprintf(os.Stderr, "exec %s: %v\n", args[0], err)
	os.Exit(2)
}
