//go:build unix

package sqlitefile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mode(t *testing.T, p string) os.FileMode {
	t.Helper()
	info, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return info.Mode().Perm()
}

func TestPrepareMakesFilesPrivate(t *testing.T) {
	t.Run("new", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "state")
		db := filepath.Join(dir, "x.db")
		if err := Prepare(db); err != nil {
			t.Fatal(err)
		}
		if m := mode(t, dir); m != 0o700 {
			t.Errorf("state directory %o, want 700", m)
		}
		if m := mode(t, db); m != 0o600 {
			t.Errorf("database %o, want 600", m)
		}
	})
	t.Run("existing", func(t *testing.T) {
		dir := t.TempDir()
		db := filepath.Join(dir, "x.db")
		for _, p := range []string{db, db + "-wal", db + "-shm"} {
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := Prepare(db); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{db, db + "-wal", db + "-shm"} {
			if m := mode(t, p); m != 0o600 {
				t.Errorf("%s: %o, want 600", filepath.Base(p), m)
			}
		}
	})
}

func TestExplain(t *testing.T) {
	cause := errors.New("unable to open database file (14)")
	tests := []struct {
		name    string
		setup   func(t *testing.T, db string)
		want    string
		notRoot bool // root may write anywhere
	}{
		{"database is a folder", func(t *testing.T, db string) {
			if err := os.Mkdir(db, 0o700); err != nil {
				t.Fatal(err)
			}
		}, "x.db: it is a folder, not a database file: move it away, and a new database is made (unable to open database file (14))", false},
		{"folder is read-only", func(t *testing.T, db string) {
			if err := os.WriteFile(db, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(filepath.Dir(db), 0o500); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Chmod(filepath.Dir(db), 0o700) })
		}, "is not writable: permission denied (SQLite keeps its -wal and -shm files beside the database; check state_dir and the folder's permissions) (unable to open database file (14))", true},
		{"database is read-only", func(t *testing.T, db string) {
			if err := os.WriteFile(db, nil, 0o400); err != nil {
				t.Fatal(err)
			}
		}, "x.db: it cannot be written: permission denied (check the owner and permissions) (unable to open database file (14))", true},
		{"nothing found", func(*testing.T, string) {}, "x.db: unable to open database file (14)", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.notRoot && os.Geteuid() == 0 {
				t.Skip("root writes anywhere; cmd/cajon's TestLocalStoreOpenErrors runs this as another user")
			}
			db := filepath.Join(t.TempDir(), "x.db")
			tt.setup(t, db)
			err := Explain(db, cause)
			if !errors.Is(err, cause) || !strings.HasPrefix(err.Error(), db) || !strings.HasSuffix(err.Error(), tt.want) {
				t.Errorf("Explain = %v\nwant it to start with %s and end with %q", err, db, tt.want)
			}
		})
	}
}
