package proctest

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cajonfarm/cajon/internal/testwait"
)

func TestAlive(t *testing.T) {
	if !Alive(os.Getpid()) {
		t.Error("this process is not alive")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if Alive(cmd.Process.Pid) {
		t.Errorf("a reaped child (pid %d) is alive", cmd.Process.Pid)
	}
	// Exited, not reaped: a zombie, gone all the same.
	zombie := exec.Command(exe, "-test.run=^$")
	if err := zombie.Start(); err != nil {
		t.Fatal(err)
	}
	defer zombie.Wait()
	testwait.For(t, "the unreaped child to count as gone", func() bool { return !Alive(zombie.Process.Pid) })
}

func TestReadPids(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"whole": "12\n", "partial": "34", "list": "1 2\n3\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got := ReadPidFiles(dir, "whole", "partial", "missing")
	if len(got) != 1 || got["whole"] != 12 {
		t.Errorf("ReadPidFiles = %v, want only whole=12", got)
	}
	if pids := ReadPidList(t, filepath.Join(dir, "list")); !slices.Equal(pids, []int{1, 2, 3}) {
		t.Errorf("ReadPidList = %v, want [1 2 3]", pids)
	}
	if pids := ReadPidList(t, filepath.Join(dir, "missing")); pids != nil {
		t.Errorf("ReadPidList of a missing file = %v, want none", pids)
	}
	if pids := ReadPidList(t, filepath.Join(dir, "partial")); !slices.Equal(pids, []int{34}) {
		t.Errorf("ReadPidList of one pid without a newline = %v, want [34]", pids)
	}
}
