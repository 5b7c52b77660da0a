package jobstore

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/local/jobfile"
)

// v1Store writes testdata/local-v1.sql, a store of schema version 1, to a
// new file and returns its path.
func v1Store(t *testing.T) string {
	t.Helper()
	script, err := os.ReadFile(filepath.Join("testdata", "local-v1.sql"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), DBFile)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(string(script)); err != nil {
		t.Fatal(err)
	}
	return path
}

func userVersion(t *testing.T, s *Store) int {
	t.Helper()
	var v int
	if err := s.db.QueryRow(`PRAGMA user_version`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestMigrateFromVersion1(t *testing.T) {
	ctx := context.Background()
	path := v1Store(t)
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v := userVersion(t, s); v != schemaVersion {
		t.Fatalf("user_version %d after Open, want %d", v, schemaVersion)
	}
	for _, table := range []string{"jobs", "tasks"} {
		var ddl string
		if err := s.db.QueryRow(`SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?`, table).Scan(&ddl); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(ddl, "AUTOINCREMENT") {
			t.Errorf("table %s is not AUTOINCREMENT after the migration:\n%s", table, ddl)
		}
	}
	var indexes int
	if err := s.db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN
		('jobs_by_state', 'tasks_by_status', 'tasks_by_job', 'one_completion')`).Scan(&indexes); err != nil || indexes != 4 {
		t.Errorf("%d of the 4 indexes after the migration (%v)", indexes, err)
	}

	// Every row is still there, with its ids and links.
	tests := []struct {
		id      int64
		name    string
		state   string
		tasks   []string
		deps    map[string][]string
		attempt map[string]int
	}{
		{1, "old-a", JobCompleted, []string{"first", "second"}, map[string][]string{"second": {"first"}}, map[string]int{"first": 1, "second": 1}},
		{2, "waiting", JobWaiting, []string{"later"}, nil, map[string]int{"later": 0}},
		{3, "old-b", JobCompleted, []string{"only"}, nil, map[string]int{"only": 1}},
	}
	for _, tt := range tests {
		j, tasks, err := s.Job(ctx, tt.id)
		if err != nil {
			t.Fatalf("job %d: %v", tt.id, err)
		}
		if j.Name != tt.name || j.State != tt.state || len(tasks) != len(tt.tasks) {
			t.Errorf("job %d: %s %s, %d tasks", tt.id, j.Name, j.State, len(tasks))
			continue
		}
		for i, tk := range tasks {
			if tk.Name != tt.tasks[i] || strings.Join(tk.DependsOn, ",") != strings.Join(tt.deps[tk.Name], ",") ||
				len(tk.Attempts) != tt.attempt[tk.Name] {
				t.Errorf("job %d task %d: %s depends on %v, %d attempts", tt.id, i, tk.Name, tk.DependsOn, len(tk.Attempts))
			}
		}
	}

	// Deleting the job with the highest id must not free its id, nor its
	// tasks' ids.
	res, err := s.DeleteFinished(ctx, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got := idsText(res.Jobs); got != "1 3" || idsText(res.Tasks) != "1 2 4" {
		t.Errorf("deleted jobs %s, tasks %s; want jobs 1 3, tasks 1 2 4", got, idsText(res.Tasks))
	}
	id, taskIDs := submitEcho(t, s, "new")
	if id <= 3 || taskIDs[0] <= 4 {
		t.Errorf("a job submitted after the migration and a prune got id %d with task ids %v: an id of a removed job or task", id, taskIDs)
	}

	// Opening the migrated store again changes nothing.
	s.Close()
	if s, err = Open(ctx, path); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Job(ctx, id); err != nil {
		t.Errorf("reopened: %v", err)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), DBFile)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE jobs (id INTEGER PRIMARY KEY); PRAGMA user_version = 99`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = Open(context.Background(), path)
	if err == nil || !strings.Contains(err.Error(), "schema version 99 is newer") || !strings.Contains(err.Error(), path) {
		t.Errorf("Open of a version 99 store: %v", err)
	}
}

// submitEcho stores a one-task job without checking it against plugins and
// returns its id and task ids.
func submitEcho(t *testing.T, s *Store, name string) (int64, []int64) {
	t.Helper()
	job, err := jobfile.ParseJob(context.Background(), "new.toml", []byte("name = \""+name+"\"\n[[tasks]]\nname = \"t\"\n[[tasks.commands]]\nname = \"echo\"\nparameters = { message = \"hi\" }\n"))
	if err != nil {
		t.Fatal(err)
	}
	id, err := s.Submit(context.Background(), job, Submission{At: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	_, tasks, err := s.Job(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, tk := range tasks {
		ids = append(ids, tk.ID)
	}
	return id, ids
}

func idsText(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, " ")
}
