package jobstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunnerLockOnTheDatabaseFile: a second path to the same database (a
// state directory whose local.db is a symlink) meets the same runner lock.
// Two opens in one process stand for two processes: the lock belongs to the
// open file.
func TestRunnerLockOnTheDatabaseFile(t *testing.T) {
	ctx := context.Background()
	a := filepath.Join(t.TempDir(), "a")
	b := filepath.Join(t.TempDir(), "b")
	first, err := Open(ctx, filepath.Join(a, DBFile))
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if err := os.MkdirAll(b, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(a, DBFile), filepath.Join(b, DBFile)); err != nil {
		t.Fatal(err)
	}
	second, err := Open(ctx, filepath.Join(b, DBFile))
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()

	release, err := first.LockRunner()
	if err != nil {
		t.Fatal(err)
	}
	_, err = second.LockRunner()
	if !errors.Is(err, ErrRunnerActive) || !strings.Contains(err.Error(), fmt.Sprintf("(pid %d)", os.Getpid())) {
		t.Errorf("second runner through the symlink: %v", err)
	}
	if active, pid := second.runnerActive(); !active || pid != os.Getpid() {
		t.Errorf("runnerActive through the symlink = %v, %d; want true, %d", active, pid, os.Getpid())
	}
	release()
	if active, _ := second.runnerActive(); active {
		t.Error("runnerActive after release = true")
	}
	release2, err := second.LockRunner()
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	release2()
}

func TestStoreFilesArePrivate(t *testing.T) {
	state := filepath.Join(t.TempDir(), "new-state")
	store, err := Open(context.Background(), filepath.Join(state, DBFile))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	submitEcho(t, store, "p")
	release, err := store.LockRunner()
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	// While the store is open the WAL files exist.
	for path, want := range map[string]os.FileMode{
		state:                                0o700,
		filepath.Join(state, DBFile):         0o600,
		filepath.Join(state, DBFile+"-wal"):  0o600,
		filepath.Join(state, DBFile+"-shm"):  0o600,
		filepath.Join(state, DBFile+".lock"): 0o600,
	} {
		info, err := os.Stat(path)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if got := info.Mode().Perm(); got != want {
			t.Errorf("%s: mode %o, want %o", filepath.Base(path), got, want)
		}
	}
}

func TestOpenNamesTheCause(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, DBFile)
	if err := os.Mkdir(db, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), db)
	want := "local job store: " + db + ": it is a folder, not a database file: move it away, and a new database is made"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Open of a folder: %v\nwant it to start with %q", err, want)
	}
}
