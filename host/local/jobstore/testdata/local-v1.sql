-- A local.db of schema version 1 (cajon before job retention), as its Open created it,
-- with three jobs: 1 completed long ago, 2 waiting, 3 completed long ago (the highest id).

CREATE TABLE IF NOT EXISTS jobs (
	id            INTEGER PRIMARY KEY,
	name          TEXT    NOT NULL,
	priority      INTEGER NOT NULL,
	source        TEXT    NOT NULL,           -- the job file, as given to submit
	content       TEXT    NOT NULL,           -- the validated job as JSON
	content_hash  TEXT    NOT NULL,           -- sha256 of content, for duplicate recurring jobs
	state         TEXT    NOT NULL,           -- waiting, running, completed, failed, canceled
	every_ns      INTEGER NOT NULL DEFAULT 0, -- > 0: recurring
	due_at        INTEGER NOT NULL,           -- unix ns: not before
	run           INTEGER NOT NULL DEFAULT 1, -- the current run of a recurring job
	created_at    INTEGER NOT NULL,
	started_at    INTEGER,                    -- of the current run
	finished_at   INTEGER,
	message       TEXT    NOT NULL DEFAULT '',
	last_state    TEXT    NOT NULL DEFAULT '', -- a recurring job's previous run
	last_finished INTEGER,
	last_message  TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs(state, due_at);
CREATE TABLE IF NOT EXISTS tasks (
	id           INTEGER PRIMARY KEY,
	job_id       INTEGER NOT NULL REFERENCES jobs(id),
	idx          INTEGER NOT NULL,            -- order in the job file
	name         TEXT    NOT NULL,
	type         TEXT    NOT NULL,
	commands     TEXT    NOT NULL,            -- JSON
	status       TEXT    NOT NULL,
	steps_done   INTEGER NOT NULL DEFAULT 0,
	steps_total  INTEGER NOT NULL,
	activity     TEXT    NOT NULL DEFAULT '',
	pids         TEXT    NOT NULL DEFAULT '', -- space-separated, of the running command
	attempt_id   INTEGER,                     -- the current execution (fences stale writers)
	started_at   INTEGER,
	finished_at  INTEGER,
	message      TEXT    NOT NULL DEFAULT '',
	output_path  TEXT    NOT NULL DEFAULT '',
	preview_path TEXT    NOT NULL DEFAULT '',
	log_path     TEXT    NOT NULL DEFAULT '',
	UNIQUE (job_id, name)
);
CREATE INDEX IF NOT EXISTS tasks_by_status ON tasks(status, job_id);
CREATE INDEX IF NOT EXISTS tasks_by_job ON tasks(job_id, status, idx);
CREATE TABLE IF NOT EXISTS task_deps (
	task_id INTEGER NOT NULL REFERENCES tasks(id),
	dep_id  INTEGER NOT NULL REFERENCES tasks(id),
	PRIMARY KEY (task_id, dep_id)
);
CREATE TABLE IF NOT EXISTS attempts (
	id          INTEGER PRIMARY KEY,
	task_id     INTEGER NOT NULL REFERENCES tasks(id),
	run         INTEGER NOT NULL,
	status      TEXT    NOT NULL,
	started_at  INTEGER NOT NULL,
	finished_at INTEGER,
	message     TEXT    NOT NULL DEFAULT '',
	pid         INTEGER NOT NULL              -- of the cajon process that ran it
);
-- A task completes at most once per run, whatever happens.
CREATE UNIQUE INDEX IF NOT EXISTS one_completion ON attempts(task_id, run) WHERE status = 'completed';
PRAGMA user_version = 1;

INSERT INTO jobs (id, name, priority, source, content, content_hash, state, every_ns, due_at, run, created_at, started_at, finished_at)
VALUES
	(1, 'old-a', 50, '/jobs/a.toml', '{"name":"old-a"}', 'h1', 'completed', 0, 1000000000, 1, 1000000000, 1000000000, 2000000000),
	(2, 'waiting', 50, '/jobs/w.toml', '{"name":"waiting"}', 'h2', 'waiting', 0, 4102444800000000000, 1, 1000000000, NULL, NULL),
	(3, 'old-b', 60, '/jobs/b.toml', '{"name":"old-b"}', 'h3', 'completed', 0, 1000000000, 1, 1000000000, 1000000000, 3000000000);
INSERT INTO tasks (id, job_id, idx, name, type, commands, status, steps_done, steps_total, started_at, finished_at, log_path)
VALUES
	(1, 1, 0, 'first', 'misc', '[{"name":"echo","parameters":{"message":"hi"}}]', 'completed', 1, 1, 1000000000, 1500000000, '/state/logs/local-1/first.log'),
	(2, 1, 1, 'second', 'misc', '[{"name":"echo","parameters":{"message":"hi"}}]', 'completed', 1, 1, 1500000000, 2000000000, '/state/logs/local-1/second.log'),
	(3, 2, 0, 'later', 'misc', '[{"name":"echo","parameters":{"message":"hi"}}]', 'queued', 0, 1, NULL, NULL, ''),
	(4, 3, 0, 'only', 'misc', '[{"name":"echo","parameters":{"message":"hi"}}]', 'completed', 1, 1, 1000000000, 3000000000, '/state/logs/local-3/only.log');
INSERT INTO task_deps (task_id, dep_id) VALUES (2, 1);
INSERT INTO attempts (id, task_id, run, status, started_at, finished_at, pid)
VALUES
	(1, 1, 1, 'completed', 1000000000, 1500000000, 4242),
	(2, 2, 1, 'completed', 1500000000, 2000000000, 4242),
	(3, 4, 1, 'completed', 1000000000, 3000000000, 4242);
