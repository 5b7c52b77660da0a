//go:build unix

package wine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/internal/testbin"
)

// Environment variables of the lane. None starts with CAJON_: cajon.exe
// inherits the environment and would warn about unknown settings.
const (
	// EnableEnv turns the lane's tests on (make test-windows sets it to 1).
	// Without it they skip, so that `go test ./...` stays fast and needs
	// no wine.
	EnableEnv = "WINE_SUITE"
	// PrefixEnv names a wine prefix to keep between runs (make
	// test-windows: .tools/wine-prefix); it is made there when missing or
	// stale. Unset: a new prefix in a temporary folder, removed at the end.
	PrefixEnv = "WINE_SUITE_PREFIX"
	// LoaderEnv names the wine program; default: the first of wine, wine64
	// and /usr/lib/wine/wine64 (Debian's wine64 package alone) found.
	LoaderEnv = "WINE_SUITE_WINE"
	// markEnv marks the processes of one test. Wine starts a Windows
	// process with the Unix environment of the process that created it, so
	// the mark set on `wine cajon.exe` reaches the plugins and every
	// command they start.
	markEnv = "WINE_SUITE_MARK"
)

// mingwGCC is Debian's gcc-mingw-w64-x86-64-win32 compiler, for the
// bcryptprimitives.dll stand-in.
const mingwGCC = "x86_64-w64-mingw32-gcc"

// dllSource is the stand-in for bcryptprimitives.dll, from the module root.
const dllSource = "scripts/windows/bcryptprimitives.c"

// bootTimeout bounds making a new prefix: wineboot takes 20 to 60 s the
// first time on a loaded machine.
const bootTimeout = 5 * time.Minute

// Env is a wine prefix ready to run Go programs, and the Windows build of
// Cajon. The zero Env's tests skip.
type Env struct {
	// Wine is the wine program; Server is its wineserver.
	Wine, Server string
	// Prefix is the WINEPREFIX.
	Prefix string
	// Bin holds cajon.exe and plugins/cajon-plugin-<name>.exe (a Linux
	// path; WinPath gives the one Windows programs see).
	Bin string

	skip string // why the tests skip; "" when they run
}

// Require skips tb when the lane is off or cannot run here, saying why.
func (e *Env) Require(tb testing.TB) {
	tb.Helper()
	if e == nil || e.Wine == "" {
		reason := "the Windows lane is off: run make test-windows (or set " + EnableEnv + "=1)"
		if e != nil && e.skip != "" {
			reason = e.skip
		}
		tb.Skip(reason)
	}
}

// Main is the body of a TestMain of the lane: it prepares the prefix and
// builds cajon.exe with the named plugins, sets *env, runs the tests, then
// stops the prefix's wine processes and removes what it made. When the lane
// is off or wine is missing, *env says so and every test skips (Require).
func Main(m *testing.M, env **Env, plugins ...string) int {
	e, cleanup, err := Setup(plugins...)
	if err != nil {
		fmt.Fprintf(os.Stderr, "the Windows lane cannot start: %v\n", err)
		return 1
	}
	*env = e
	code := m.Run()
	cleanup()
	return code
}

// Setup is Main without the tests, for a TestMain that has more to do: it
// returns the Env (whose tests skip when the lane is off or cannot run
// here) and the cleanup to call after the tests.
func Setup(plugins ...string) (*Env, func(), error) {
	nothing := func() {}
	if os.Getenv(EnableEnv) == "" {
		return &Env{skip: "the Windows lane is off: run make test-windows (or set " + EnableEnv + "=1)"}, nothing, nil
	}
	loader, err := findLoader()
	if err != nil {
		return &Env{skip: err.Error()}, nothing, nil
	}
	if _, err := exec.LookPath(mingwGCC); err != nil {
		return &Env{skip: "no " + mingwGCC + " to build the bcryptprimitives.dll stand-in that Go programs need under wine 8: apt-get install gcc-mingw-w64-x86-64-win32"}, nothing, nil
	}
	e := &Env{Wine: loader, Server: serverBeside(loader)}
	var remove []string
	cleanup := func() {
		e.stopServer()
		for _, p := range remove {
			os.RemoveAll(p)
		}
	}
	e.Prefix = os.Getenv(PrefixEnv)
	if e.Prefix == "" {
		tmp, err := os.MkdirTemp("", "cajon-wine-prefix-")
		if err != nil {
			return nil, nothing, err
		}
		remove = append(remove, tmp)
		e.Prefix = filepath.Join(tmp, "prefix")
	} else if e.Prefix, err = filepath.Abs(e.Prefix); err != nil {
		return nil, nothing, err
	}
	if err := e.preparePrefix(); err != nil {
		cleanup()
		return nil, nothing, err
	}
	if err := e.startServer(); err != nil {
		cleanup()
		return nil, nothing, err
	}
	bin, err := os.MkdirTemp("", "cajon-wine-bin-")
	if err != nil {
		cleanup()
		return nil, nothing, err
	}
	remove = append(remove, bin)
	if err := testbin.BuildFor("windows", bin, plugins...); err != nil {
		cleanup()
		return nil, nothing, err
	}
	e.Bin = bin
	return e, cleanup, nil
}

// findLoader finds the wine program.
func findLoader() (string, error) {
	if p := os.Getenv(LoaderEnv); p != "" {
		return p, nil
	}
	for _, name := range []string{"wine", "wine64", "/usr/lib/wine/wine64"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no wine: apt-get install wine64 (or name the wine program in " + LoaderEnv + ")")
}

// serverBeside is the wineserver that goes with the wine program at loader.
func serverBeside(loader string) string {
	real, err := filepath.EvalSymlinks(loader)
	if err != nil {
		real = loader
	}
	for _, p := range []string{
		filepath.Join(filepath.Dir(real), "wineserver"),
		filepath.Join(filepath.Dir(loader), "wineserver"),
		"/usr/lib/wine/wineserver64",
	} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("wineserver"); err == nil {
		return p
	}
	return "wineserver"
}

// environ is the environment of the wine programs this Env runs: the test's
// own, without the lane's variables, with the prefix, quiet wine, and mark.
func (e *Env) environ(mark string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "WINE") || strings.HasPrefix(name, "CAJON_") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "WINEPREFIX="+e.Prefix, "WINEDEBUG=-all")
	if mark != "" {
		env = append(env, markEnv+"="+mark)
	}
	return env
}

// Command is `wine exe args...` in the prefix; every process it starts
// carries mark (Processes finds them by it). exe is a Windows program: a
// Linux path to a .exe, or a name wine finds ("cmd", "taskkill").
func (e *Env) Command(mark, exe string, args ...string) *exec.Cmd {
	cmd := exec.Command(e.Wine, append([]string{exe}, args...)...)
	cmd.Env = e.environ(mark)
	// A process the command left behind may hold its output pipes open;
	// the test then sees the leftover, not a hang.
	cmd.WaitDelay = pipeWait
	return cmd
}

// pipeWait is how long a finished command's output pipes may stay open.
const pipeWait = 10 * time.Second

// Cajon is Command for cajon.exe of the build.
func (e *Env) Cajon(mark string, args ...string) *exec.Cmd {
	return e.Command(mark, filepath.Join(e.Bin, "cajon.exe"), args...)
}

// WinPath is the Windows path of the Linux path p: wine maps drive Z: to /.
func WinPath(p string) string {
	return `Z:` + strings.ReplaceAll(filepath.Clean(p), "/", `\`)
}

// preparePrefix makes the prefix, unless it is there already and made for
// this stand-in DLL and this wine: wineboot, then the stand-in DLL built
// into its system32. Two test binaries may prepare the same prefix at once:
// a lock file makes the second wait for the first.
func (e *Env) preparePrefix() error {
	root, err := testbin.Root()
	if err != nil {
		return err
	}
	src := filepath.Join(root, dllSource)
	want, err := e.prefixStamp(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(e.Prefix), 0o755); err != nil {
		return err
	}
	lock, err := os.OpenFile(e.Prefix+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("locking %s: %w", lock.Name(), err)
	}
	stampFile := filepath.Join(e.Prefix, "cajon-wine-suite.stamp")
	if got, err := os.ReadFile(stampFile); err == nil && string(got) == want {
		return nil
	}
	if err := os.RemoveAll(e.Prefix); err != nil {
		return fmt.Errorf("removing the stale prefix: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), bootTimeout)
	defer cancel()
	boot := exec.CommandContext(ctx, e.Wine, "wineboot", "--init")
	boot.Env = e.environ("")
	boot.WaitDelay = pipeWait
	// wineboot says that the 32-bit half is missing (Debian's wine64
	// alone): not needed, Cajon is 64-bit.
	if out, err := boot.CombinedOutput(); err != nil {
		return fmt.Errorf("wineboot --init in %s: %w\n%s", e.Prefix, err, out)
	}
	wait := exec.CommandContext(ctx, e.Server, "--wait")
	wait.Env = e.environ("")
	wait.WaitDelay = pipeWait
	if out, err := wait.CombinedOutput(); err != nil {
		return fmt.Errorf("waiting for wineboot to finish: %w\n%s", err, out)
	}
	dll := filepath.Join(e.Prefix, "drive_c", "windows", "system32", "bcryptprimitives.dll")
	gcc := exec.CommandContext(ctx, mingwGCC, "-shared", "-O2", "-s", "-o", dll, src, "-ladvapi32")
	if out, err := gcc.CombinedOutput(); err != nil {
		return fmt.Errorf("building %s: %w\n%s", dll, err, out)
	}
	return os.WriteFile(stampFile, []byte(want), 0o644)
}

// prefixStamp names what a prefix was made for: the stand-in's source and
// the wine version.
func (e *Env) prefixStamp(src string) (string, error) {
	code, err := os.ReadFile(src)
	if err != nil {
		return "", err
	}
	version, err := exec.Command(e.Wine, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", e.Wine, err)
	}
	sum := sha256.Sum256(append(code, version...))
	return hex.EncodeToString(sum[:]), nil
}

// serverLinger is how long the wineserver outlives its last client: long
// enough to serve every test without starting again, short enough that a
// test binary killed midway leaves nothing behind for long.
const serverLinger = 60

// startServer starts the prefix's wineserver and wine's own services
// before any test, so that they carry no test's mark and hold none of a
// test's output pipes open (they inherit the standard handles of the
// process that starts them, and live on).
func (e *Env) startServer() error {
	server := exec.Command(e.Server, "-p"+strconv.Itoa(serverLinger))
	server.Env = e.environ("")
	if err := server.Run(); err != nil {
		return fmt.Errorf("starting wineserver: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), bootTimeout)
	defer cancel()
	warm := exec.CommandContext(ctx, e.Wine, "cmd", "/c", "exit")
	warm.Env = e.environ("")
	if err := warm.Run(); err != nil {
		return fmt.Errorf("starting wine's services (wine cmd /c exit): %w", err)
	}
	return nil
}

// stopServer kills every wine process of the prefix and its wineserver.
func (e *Env) stopServer() {
	cmd := exec.Command(e.Server, "-k")
	cmd.Env = e.environ("")
	_ = cmd.Run()
	wait := exec.Command(e.Server, "--wait")
	wait.Env = e.environ("")
	_ = wait.Run()
}
