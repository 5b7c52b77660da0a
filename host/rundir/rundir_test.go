package rundir_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/host/rundir"
)

// TestHelperHoldsAFolder is not a test: run as a child process by
// TestSweepTakesOnlyTheFoldersOfGoneProcesses, it opens a runtime folder,
// prints its path and waits to be killed.
func TestHelperHoldsAFolder(t *testing.T) {
	state := os.Getenv("RUNDIR_HELPER_STATE")
	if state == "" {
		t.Skip("a helper process")
	}
	d, err := rundir.Open(state, 0)
	if err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString(d.Path() + "\n")
	os.Stdin.Read(make([]byte, 1)) // until the parent closes it or kills us
	os.Exit(0)
}

func holder(t *testing.T, state string) (path string, kill func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHoldsAFolder$")
	cmd.Env = append(os.Environ(), "RUNDIR_HELPER_STATE="+state)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, _ := out.Read(buf) // the path: written at once, in one write
	path = string(buf[:n])
	if len(path) == 0 || path[len(path)-1] != '\n' {
		t.Fatalf("helper said %q", path)
	}
	return path[:len(path)-1], func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		in.Close()
	}
}

// TestSweepTakesOnlyTheFoldersOfGoneProcesses: a killed process's folder is
// swept when the next process opens; a live one's stays.
func TestSweepTakesOnlyTheFoldersOfGoneProcesses(t *testing.T) {
	state := t.TempDir()
	live, stopLive := holder(t, state)
	defer stopLive()
	dead, killDead := holder(t, state)
	killDead()
	if err := os.WriteFile(filepath.Join(dead, "plugin123"), nil, 0o600); err != nil {
		t.Fatal(err)
	}

	d, err := rundir.Open(state, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("the killed process's folder %s is still there (%v)", dead, err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("the live process's folder went: %v", err)
	}
	if filepath.Dir(d.Path()) != filepath.Join(state, rundir.Sub) {
		t.Errorf("folder %s is not in %s", d.Path(), filepath.Join(state, rundir.Sub))
	}
	if info, err := os.Stat(d.Path()); err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("folder mode %v (%v), want 0700", info.Mode(), err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	left, _ := os.ReadDir(filepath.Join(state, rundir.Sub))
	var names []string
	for _, e := range left {
		names = append(names, filepath.Join(state, rundir.Sub, e.Name()))
	}
	if !slices.Equal(names, []string{live}) {
		t.Errorf("after Close the run folder holds %v, want only the live process's %s", names, live)
	}
}

// TestALongStateDirUsesTheTemporaryFolder: a state dir too long for the
// sockets gives a folder in TMPDIR, swept there too; both too long is an
// error that names the path, the limit and the fix.
func TestALongStateDirUsesTheTemporaryFolder(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	long := filepath.Join(t.TempDir(), "state-dir-with-a-long-name")
	max := len(tmp) + 1 + len(rundir.TempPrefix) + 6
	if err := os.MkdirAll(filepath.Join(tmp, rundir.TempPrefix+"deadbeef"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmp, rundir.TempPrefix+"deadbeef", "lock"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(tmp, "not-ours"), 0o700); err != nil {
		t.Fatal(err)
	}
	d, err := rundir.Open(long, max)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(d.Path()) != tmp || !strings.HasPrefix(filepath.Base(d.Path()), rundir.TempPrefix) {
		t.Errorf("folder %s, want %s%s... in %s", d.Path(), rundir.TempPrefix, "", tmp)
	}
	if _, err := os.Stat(filepath.Join(tmp, rundir.TempPrefix+"deadbeef")); !os.IsNotExist(err) {
		t.Errorf("a dead process's folder in TMPDIR was not swept (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(tmp, "not-ours")); err != nil {
		t.Errorf("a folder that is not cajon's went: %v", err)
	}
	if _, err := os.Stat(filepath.Join(long, rundir.Sub)); !os.IsNotExist(err) {
		t.Errorf("the too long run folder was made (%v)", err)
	}
	d.Close()

	_, err = rundir.Open(long, max-1)
	var tooLong *rundir.TooLongError
	if !errors.As(err, &tooLong) || !strings.Contains(err.Error(), filepath.Join(long, rundir.Sub)) || !strings.Contains(err.Error(), "set a shorter state_dir (CAJON_STATE_DIR) or TMPDIR") {
		t.Errorf("Open with both too long: %v", err)
	}
}
