package winservice

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/windows"

	"github.com/cajonfarm/cajon/internal/testtemp"
	"github.com/cajonfarm/cajon/internal/testwait"
)

// TestMain makes the test binary a service when the service manager starts
// it with the arguments Install.ServiceArgs gives it: "service run --log
// FILE NAME -- DIR". Its work says "started" in DIR\state, then waits for
// the service stop and says why it stopped; with DIR\exit-code it ends
// at once with that code instead.
func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == "service" && os.Args[2] == "run" {
		os.Exit(serviceMain(os.Args[3:]))
	}
	os.Exit(m.Run())
}

func serviceMain(args []string) int {
	fs := flag.NewFlagSet("service run", flag.ContinueOnError)
	logPath := fs.String("log", "", "")
	if err := fs.Parse(args); err != nil || fs.NArg() != 3 {
		return 2
	}
	name, dir := fs.Arg(0), fs.Arg(2)
	state := filepath.Join(dir, "state")
	err := Run(name, *logPath, func(ctx context.Context, out io.Writer) int {
		fmt.Fprintln(out, "work: started")
		if b, err := os.ReadFile(filepath.Join(dir, "exit-code")); err == nil {
			code, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			os.WriteFile(state, []byte("exiting with "+strconv.Itoa(code)), 0o644)
			return code
		}
		os.WriteFile(state, []byte("started"), 0o644)
		<-ctx.Done()
		os.WriteFile(state, []byte("stopped: "+context.Cause(ctx).Error()), 0o644)
		return 0
	})
	if err != nil {
		os.WriteFile(state, []byte("Run: "+err.Error()), 0o644)
		return 1
	}
	return 0
}

// underWine reports whether the test runs under wine, whose ntdll says so.
func underWine() bool {
	return windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil
}

// TestServiceLifecycle installs this test binary as a service in the
// service manager and takes it through start, status, a service stop
// (which must reach the worker as ErrStopRequested), an exit with the
// restart exit code, and uninstall. It changes the machine's services, so
// it runs under wine only (the wine lane's own prefix); it needs an
// administrator on Windows.
func TestServiceLifecycle(t *testing.T) {
	if !underWine() {
		t.Skip("installs a service: runs under wine only (make test-windows)")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := testtemp.Dir(t)
	name := fmt.Sprintf("cajon-test-%d", os.Getpid())
	in := Install{Name: name, DisplayName: "Cajon test", Exe: exe, Log: filepath.Join(dir, "logs", "service.log"), RunArgs: []string{dir}}
	warnings, err := InstallService(in)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { UninstallService(name) })
	t.Logf("install warnings: %q", warnings)
	if _, err := InstallService(in); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("a second install: %v", err)
	}

	state := func() string {
		b, _ := os.ReadFile(filepath.Join(dir, "state"))
		return string(b)
	}
	if st, err := QueryService(name); err != nil || st.State != "stopped" {
		t.Fatalf("after install: %+v, %v", st, err)
	}
	if err := StartService(name); err != nil {
		t.Fatal(err)
	}
	testwait.Within(t, "the service's work to start", 30*time.Second, func() bool { return state() == "started" })
	st, err := QueryService(name)
	if err != nil || st.State != "running" || st.PID == 0 {
		t.Fatalf("started: %+v, %v", st, err)
	}
	if err := StopService(name); err != nil {
		t.Fatal(err)
	}
	if got, want := state(), "stopped: "+ErrStopRequested.Error(); got != want {
		t.Errorf("the work says %q, want %q", got, want)
	}
	if st, err := QueryService(name); err != nil || st.State != "stopped" || st.ExitCode != 0 {
		t.Errorf("stopped: %+v, %v", st, err)
	}
	log, err := os.ReadFile(in.Log)
	if err != nil || !strings.Contains(string(log), "work: started") || !strings.Contains(string(log), "stopping cleanly") {
		t.Errorf("the service log: %q, %v", log, err)
	}

	// The worker ends by itself with the restart exit code: the service
	// stops with it, the code the recovery actions act on.
	if err := os.WriteFile(filepath.Join(dir, "exit-code"), []byte(strconv.Itoa(DefaultRestartExitCode)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := StartService(name); err != nil && !strings.Contains(err.Error(), "exit code 47") {
		t.Fatal(err)
	}
	testwait.Within(t, "the service to stop with exit code 47", 30*time.Second, func() bool {
		st, err := QueryService(name)
		return err == nil && st.State == "stopped" && st.ExitCode == DefaultRestartExitCode
	})

	if err := UninstallService(name); err != nil {
		t.Fatal(err)
	}
	if _, err := QueryService(name); err == nil || !strings.Contains(err.Error(), "there is no service") {
		t.Errorf("after uninstall: %v", err)
	}
	if err := StopService(name); err == nil || !strings.Contains(err.Error(), "there is no service") {
		t.Errorf("stopping a removed service: %v", err)
	}
}
