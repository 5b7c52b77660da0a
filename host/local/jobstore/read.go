package jobstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/cajonfarm/cajon/host/local/jobfile"
)

// This file holds what list and show read: jobs and tasks as people see
// them, with the tasks of a runner that is gone shown interrupted.

// JobInfo is a job as list and show report it.
type JobInfo struct {
	ID       int64         `json:"id"`
	Name     string        `json:"name"`
	Priority int           `json:"priority"`
	Source   string        `json:"source"`
	State    string        `json:"state"`
	Every    time.Duration `json:"every_ns,omitempty"`
	DueAt    time.Time     `json:"due_at"`
	Run      int           `json:"run"`
	Created  time.Time     `json:"created_at"`
	Started  *time.Time    `json:"started_at,omitempty"`
	Finished *time.Time    `json:"finished_at,omitempty"`
	// Message says why the job (its current or last run) failed or was
	// canceled: the task and its failure.
	Message string `json:"message,omitempty"`
	// LastState, LastFinished and LastMessage describe a recurring job's
	// previous run.
	LastState    string     `json:"last_state,omitempty"`
	LastFinished *time.Time `json:"last_finished_at,omitempty"`
	LastMessage  string     `json:"last_message,omitempty"`
	// RunnerGone is the pid of the 'cajon local run' that claimed the job's
	// running tasks, when that process no longer holds the runner lock: the
	// tasks are interrupted (see TaskInterrupted).
	RunnerGone int `json:"runner_gone_pid,omitempty"`
	// Tasks counts the job's tasks by status.
	Tasks map[string]int `json:"tasks"`
	// StepsDone and StepsTotal add up the tasks' steps.
	StepsDone  int `json:"steps_done"`
	StepsTotal int `json:"steps_total"`
}

// Status is the job's state as people read it: a waiting job is "scheduled"
// until its due time and "queued" from then on.
func (j *JobInfo) Status(now time.Time) string {
	switch {
	case j.State == JobWaiting && j.DueAt.After(now):
		return "scheduled"
	case j.State == JobWaiting:
		return "queued"
	case j.RunnerGone != 0:
		return JobInterrupted
	}
	return j.State
}

// TaskInfo is a task as show reports it.
type TaskInfo struct {
	ID         int64             `json:"id"`
	Name       string            `json:"name"`
	Type       string            `json:"type"`
	DependsOn  []string          `json:"depends_on,omitempty"`
	Commands   []jobfile.Command `json:"commands"`
	Status     string            `json:"status"`
	StepsDone  int               `json:"steps_done"`
	StepsTotal int               `json:"steps_total"`
	Activity   string            `json:"activity,omitempty"`
	Pids       []int             `json:"pids,omitempty"`
	Started    *time.Time        `json:"started_at,omitempty"`
	Finished   *time.Time        `json:"finished_at,omitempty"`
	Message    string            `json:"message,omitempty"`
	Output     string            `json:"output,omitempty"`
	Preview    string            `json:"preview,omitempty"`
	LogPath    string            `json:"log_path,omitempty"`
	// RunnerGone is the pid of the gone runner of an interrupted task.
	RunnerGone int `json:"runner_gone_pid,omitempty"`
	// Attempts lists every execution of the task, oldest first.
	Attempts []Attempt `json:"attempts"`
}

// Attempt is one execution of a task.
type Attempt struct {
	Run      int        `json:"run"`
	Status   string     `json:"status"`
	Started  time.Time  `json:"started_at"`
	Finished *time.Time `json:"finished_at,omitempty"`
	Message  string     `json:"message,omitempty"`
	// Pid is the cajon process that ran it.
	Pid int `json:"pid"`
}

const jobColumns = `id, name, priority, source, state, every_ns, due_at, run, created_at, started_at, finished_at,
	message, last_state, last_finished, last_message`

func scanJob(row interface{ Scan(...any) error }) (*JobInfo, error) {
	var j JobInfo
	var every, due, created int64
	var started, finished, lastFinished sql.NullInt64
	if err := row.Scan(&j.ID, &j.Name, &j.Priority, &j.Source, &j.State, &every, &due, &j.Run, &created,
		&started, &finished, &j.Message, &j.LastState, &lastFinished, &j.LastMessage); err != nil {
		return nil, err
	}
	j.Every = time.Duration(every)
	j.DueAt = time.Unix(0, due)
	j.Created = time.Unix(0, created)
	j.Started = nullTime(started)
	j.Finished = nullTime(finished)
	j.LastFinished = nullTime(lastFinished)
	j.Tasks = map[string]int{}
	return &j, nil
}

func nullTime(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := time.Unix(0, n.Int64)
	return &t
}

// Jobs lists every job, newest first, with task counts.
func (s *Store) Jobs(ctx context.Context) ([]*JobInfo, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+jobColumns+` FROM jobs ORDER BY id DESC`)
	if err != nil {
		return nil, s.wrap("list jobs", err)
	}
	var jobs []*JobInfo
	byID := map[int64]*JobInfo{}
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			rows.Close()
			return nil, s.wrap("list jobs", err)
		}
		jobs = append(jobs, j)
		byID[j.ID] = j
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, s.wrap("list jobs", err)
	}
	rows, err = s.db.QueryContext(ctx, `SELECT job_id, status, count(*), sum(steps_done), sum(steps_total) FROM tasks GROUP BY job_id, status`)
	if err != nil {
		return nil, s.wrap("count tasks", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var status string
		var n, done, total int
		if err := rows.Scan(&id, &status, &n, &done, &total); err != nil {
			return nil, s.wrap("count tasks", err)
		}
		if j := byID[id]; j != nil {
			j.Tasks[status] = n
			j.StepsDone += done
			j.StepsTotal += total
		}
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("count tasks", err)
	}
	gone, err := s.goneRunners(ctx, 0)
	if err != nil {
		return nil, err
	}
	if active, _ := s.runnerActive(); !active {
		for _, j := range jobs {
			idleJob(j)
		}
	}
	for _, g := range gone {
		if j := byID[g.jobID]; j != nil {
			j.RunnerGone = g.pid
			j.Tasks[TaskRunning]--
			j.Tasks[TaskInterrupted]++
			if j.Tasks[TaskRunning] == 0 {
				delete(j.Tasks, TaskRunning)
			}
		}
	}
	return jobs, nil
}

// idleJob shows a running job that has no running task, while no runner
// works the queue, as the next runner finds it: waiting (a crash between two
// of its tasks left it so).
func idleJob(j *JobInfo) {
	if j.State == JobRunning && j.Tasks[TaskRunning] == 0 {
		j.State = JobWaiting
	}
}

// goneRun is a running task whose runner is gone.
type goneRun struct {
	taskID, jobID int64
	pid           int
}

// goneRunners finds the running tasks (of one job, or of all when jobID is
// 0) whose attempt was made by a process that no longer holds the runner
// lock: it was killed or crashed, and the tasks only look running.
func (s *Store) goneRunners(ctx context.Context, jobID int64) ([]goneRun, error) {
	active, livePid := s.runnerActive()
	if active && livePid == 0 {
		return nil, nil // a runner whose pid is unknown: assume it is theirs
	}
	q := `SELECT t.id, t.job_id, a.pid FROM tasks t JOIN attempts a ON a.id = t.attempt_id WHERE t.status = ?`
	args := []any{TaskRunning}
	if jobID != 0 {
		q += ` AND t.job_id = ?`
		args = append(args, jobID)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, s.wrap("check the runner of running tasks", err)
	}
	defer rows.Close()
	var out []goneRun
	for rows.Next() {
		var g goneRun
		if err := rows.Scan(&g.taskID, &g.jobID, &g.pid); err != nil {
			return nil, s.wrap("check the runner of running tasks", err)
		}
		if !active || g.pid != livePid {
			out = append(out, g)
		}
	}
	return out, s.wrap("check the runner of running tasks", rows.Err())
}

// LatestJob is the id of the job submitted last, or ErrNotFound.
func (s *Store) LatestJob(ctx context.Context) (int64, error) {
	var id int64
	err := s.db.QueryRowContext(ctx, `SELECT id FROM jobs ORDER BY id DESC LIMIT 1`).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("the local queue %s has no jobs: %w", s.path, ErrNotFound)
	}
	return id, s.wrap("find the latest job", err)
}

// Job returns one job and its tasks in file order.
func (s *Store) Job(ctx context.Context, id int64) (*JobInfo, []*TaskInfo, error) {
	j, err := scanJob(s.db.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, s.notFound(id)
	}
	if err != nil {
		return nil, nil, s.wrap(fmt.Sprintf("read job %d", id), err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, type, commands, status, steps_done, steps_total, activity, pids,
		started_at, finished_at, message, output_path, preview_path, log_path FROM tasks WHERE job_id = ? ORDER BY idx`, id)
	if err != nil {
		return nil, nil, s.wrap(fmt.Sprintf("read tasks of job %d", id), err)
	}
	var tasks []*TaskInfo
	byID := map[int64]*TaskInfo{}
	for rows.Next() {
		var t TaskInfo
		var cmds, pids string
		var started, finished sql.NullInt64
		if err := rows.Scan(&t.ID, &t.Name, &t.Type, &cmds, &t.Status, &t.StepsDone, &t.StepsTotal, &t.Activity, &pids,
			&started, &finished, &t.Message, &t.Output, &t.Preview, &t.LogPath); err != nil {
			rows.Close()
			return nil, nil, s.wrap(fmt.Sprintf("read tasks of job %d", id), err)
		}
		t.Commands, err = decodeCommands(cmds)
		if err != nil {
			rows.Close()
			return nil, nil, s.wrap(fmt.Sprintf("read task %q of job %d", t.Name, id), err)
		}
		t.Pids = parsePids(pids)
		t.Started, t.Finished = nullTime(started), nullTime(finished)
		t.Attempts = []Attempt{}
		tasks = append(tasks, &t)
		byID[t.ID] = &t
		j.Tasks[t.Status]++
		j.StepsDone += t.StepsDone
		j.StepsTotal += t.StepsTotal
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, s.wrap(fmt.Sprintf("read tasks of job %d", id), err)
	}
	rows, err = s.db.QueryContext(ctx, `SELECT d.task_id, t.name FROM task_deps d JOIN tasks t ON t.id = d.dep_id
		WHERE t.job_id = ? ORDER BY d.task_id, t.idx`, id)
	if err != nil {
		return nil, nil, s.wrap(fmt.Sprintf("read dependencies of job %d", id), err)
	}
	for rows.Next() {
		var tid int64
		var dep string
		if err := rows.Scan(&tid, &dep); err != nil {
			rows.Close()
			return nil, nil, s.wrap("read dependencies", err)
		}
		if t := byID[tid]; t != nil {
			t.DependsOn = append(t.DependsOn, dep)
		}
	}
	rows.Close()
	rows, err = s.db.QueryContext(ctx, `SELECT a.task_id, a.run, a.status, a.started_at, a.finished_at, a.message, a.pid
		FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE t.job_id = ? ORDER BY a.id`, id)
	if err != nil {
		return nil, nil, s.wrap(fmt.Sprintf("read attempts of job %d", id), err)
	}
	defer rows.Close()
	for rows.Next() {
		var tid, started int64
		var finished sql.NullInt64
		var a Attempt
		if err := rows.Scan(&tid, &a.Run, &a.Status, &started, &finished, &a.Message, &a.Pid); err != nil {
			return nil, nil, s.wrap("read attempts", err)
		}
		a.Started = time.Unix(0, started)
		a.Finished = nullTime(finished)
		if t := byID[tid]; t != nil {
			t.Attempts = append(t.Attempts, a)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, s.wrap("read attempts", err)
	}
	gone, err := s.goneRunners(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if active, _ := s.runnerActive(); !active {
		idleJob(j)
	}
	for _, g := range gone {
		if t := byID[g.taskID]; t != nil {
			t.Status, t.RunnerGone, t.Pids = TaskInterrupted, g.pid, nil
			t.Message = fmt.Sprintf("interrupted: the 'cajon local run' that ran it (pid %d) is gone; it runs again at the next 'cajon local run'", g.pid)
			j.RunnerGone = g.pid
			j.Tasks[TaskRunning]--
			j.Tasks[TaskInterrupted]++
			if j.Tasks[TaskRunning] == 0 {
				delete(j.Tasks, TaskRunning)
			}
		}
	}
	return j, tasks, nil
}
