package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/local/jobstore"
	"github.com/cajonfarm/cajon/internal/managertest"
	"github.com/cajonfarm/cajon/internal/workertest"
)

// The test job: 4 frames in chunks of 2, so two render tasks and the video.
const testFrames, testChunk = 4, 2

// TestSimpleBlenderRenderManager runs a Simple Blender Render job through
// the fake Manager and the real worker, plugins, Blender and FFmpeg, and
// checks what the Manager received and what landed on disk.
func TestSimpleBlenderRenderManager(t *testing.T) {
	tl := needTools(t)
	tmp := isolateTemp(t)
	dir := t.TempDir()
	render := testRender(t, makeScene(t, tl.blender, dir), filepath.Join(dir, "render", "shot-010"), testFrames, testChunk)
	job := mustJob(t, render, "shot-010")

	mgr := managertest.New(t, managertest.Config{FailAfter: 1})
	added := mgr.AddJob(job.ManagerJob())
	cfg := workerConfig(t, mgr)
	cfg.Manager.MayIRunInterval = 100 * time.Millisecond
	cfg.Manager.FetchBackoffMax = 200 * time.Millisecond
	w := startWorker(t, cfg, workertest.FastTimings())

	js := waitJobEnd(t, mgr, added.ID, 3*time.Minute)
	if code := w.stop(); code != 0 {
		t.Errorf("the worker exited with %d after SIGTERM, want 0", code)
	}
	if bad := warnings(w.Log.String()); len(bad) > 0 {
		t.Errorf("a clean render made the worker warn:\n%s", strings.Join(bad, "\n"))
	}
	if js.Status != managertest.StatusCompleted {
		for _, id := range js.TaskIDs {
			ts, _ := mgr.Task(id)
			t.Logf("task %s: %s, activity %q, log:\n%s", ts.Name, ts.Status, ts.Activity, ts.Log)
		}
		t.Fatalf("job %s, want completed", js.Status)
	}

	blender, _ := exec.LookPath("blender")
	ffmpeg, _ := exec.LookPath("ffmpeg")
	outputs := mgr.Outputs()
	for i, tk := range added.Tasks {
		ts, _ := mgr.Task(tk.ID)
		if ts.Status != managertest.StatusCompleted || ts.Assignments != 1 {
			t.Errorf("task %s: %s after %d assignments, want completed after 1", ts.Name, ts.Status, ts.Assignments)
		}
		var sent []string
		for _, u := range ts.Updates {
			if u.TaskStatus != nil {
				sent = append(sent, *u.TaskStatus)
			}
		}
		if !slices.Equal(sent, []string{managertest.StatusActive, managertest.StatusCompleted}) {
			t.Errorf("task %s: statuses sent %v, want [active completed]", ts.Name, sent)
		}
		if ts.StepsCompleted != ts.StepsTotal {
			t.Errorf("task %s: %d of %d steps completed", ts.Name, ts.StepsCompleted, ts.StepsTotal)
		}
		cmd := job.Tasks[i].Commands[0]
		var previews []managertest.Output
		for _, o := range outputs {
			if o.TaskID == tk.ID {
				previews = append(previews, o)
			}
		}
		switch tk.Type {
		case "blender":
			if ts.StepsTotal != testChunk {
				t.Errorf("task %s: steps_total %d, want the %d frames of its chunk", ts.Name, ts.StepsTotal, testChunk)
			}
			if n := strings.Count(ts.Log, "Saved: '"); n != testChunk {
				t.Errorf("task %s: the log has %d of Blender's Saved: lines, want %d:\n%s", ts.Name, n, testChunk, ts.Log)
			}
			// The worker runs what Flamenco's worker runs: exe, exeArgs,
			// argsBefore, blendfile, args.
			lines := commandLines(t, ts.Log, "cajon-plugin-blender: running ")
			if want := blenderArgv(blender, cmd); len(lines) != 1 || !slices.Equal(lines[0], want) {
				t.Errorf("task %s ran %q, want %q", ts.Name, lines, want)
			}
			if len(previews) == 0 {
				t.Errorf("task %s: no preview uploaded with output-produced", ts.Name)
			}
			for _, o := range previews {
				if o.ContentType != "image/jpeg" {
					t.Errorf("task %s: output-produced of %s, want image/jpeg", ts.Name, o.ContentType)
				}
				checkJPEG(t, "preview of task "+ts.Name, bytes.NewReader(o.Data))
			}
		case "ffmpeg":
			lines := commandLines(t, ts.Log, "cajon-plugin-ffmpeg: running ")
			if len(lines) != 1 {
				t.Errorf("task %s: %d FFmpeg command lines in the log, want 1:\n%s", ts.Name, len(lines), ts.Log)
				break
			}
			want, err := ffmpegArgv(ffmpeg, cmd)
			if err != nil {
				t.Errorf("task %s: %v", ts.Name, err)
			} else if !slices.Equal(lines[0], want) {
				t.Errorf("task %s ran %q, want %q", ts.Name, lines[0], want)
			}
			if len(previews) != 0 {
				t.Errorf("task %s uploaded %d images, want none", ts.Name, len(previews))
			}
		default:
			t.Errorf("task %s of unexpected type %s", ts.Name, tk.Type)
		}
	}
	if len(outputs) == 0 {
		t.Error("no output-produced at all")
	}
	checkFrames(t, render)
	checkVideo(t, tl.ffprobe, render)
	mgr.CheckProtocol(t)
	// The host deletes every preview once sent or skipped.
	left, _ := filepath.Glob(filepath.Join(tmp, "cajon-preview", "*", "*"))
	if len(left) > 0 {
		t.Errorf("previews left behind: %q", left)
	}
}

// TestSimpleBlenderRenderLocal submits the same job as a job file to the
// local queue with the real cajon binary, runs the queue until idle, and
// checks the store, the logs, the previews and the files.
func TestSimpleBlenderRenderLocal(t *testing.T) {
	tl := needTools(t)
	tmp := isolateTemp(t)
	dir := t.TempDir()
	render := testRender(t, makeScene(t, tl.blender, dir), filepath.Join(dir, "render", "shot-020"), testFrames, testChunk)
	job := mustJob(t, render, "shot-020")
	data, err := job.TOML()
	if err != nil {
		t.Fatal(err)
	}
	jobFile := filepath.Join(dir, "shot-020.toml")
	if err := os.WriteFile(jobFile, data, 0o644); err != nil {
		t.Fatal(err)
	}

	// The two chunks start together into a folder that does not exist yet:
	// the blender plugin makes it before Blender starts, because two
	// Blenders creating it at once can fail with "imb_savepng: Cannot open
	// file for writing".
	state := filepath.Join(dir, "state")
	home := t.TempDir()
	// The user's config and CAJON_* variables stay out; the temporary
	// folder (previews) is the test's.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CAJON_") {
			env = append(env, kv)
		}
	}
	env = append(env, "HOME="+home, "USERPROFILE="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"APPDATA="+filepath.Join(home, "AppData"), "TMPDIR="+tmp, "TEMP="+tmp, "TMP="+tmp)
	exe := filepath.Join(binDir, "cajon")
	if runtime.GOOS == "windows" {
		exe += ".exe"
	}
	// cajon runs the CLI on the test's state directory.
	cajon := func(args ...string) (stdout, stderr string, err error) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, exe, append(args, "--state-dir", state)...)
		cmd.Env, cmd.Dir = env, dir
		var outBuf, errBuf bytes.Buffer
		cmd.Stdout, cmd.Stderr = &outBuf, &errBuf
		err = cmd.Run()
		return outBuf.String(), errBuf.String(), err
	}
	out, errOut, err := cajon("local", "submit", jobFile)
	if err != nil {
		t.Fatalf("cajon local submit %s: %v\n%s", jobFile, err, errOut)
	}
	id := strings.TrimSpace(out)
	// Two slots: the two chunks render at the same time, the video waits for both.
	_, runLog, err := cajon("local", "run", "--until-idle", "--slots", "2", "--plain")
	if err != nil {
		logs, _, _ := cajon("local", "logs", id)
		t.Fatalf("cajon local run: %v\n%s\nthe job's logs:\n%s", err, runLog, logs)
	}
	if bad := warnings(runLog); len(bad) > 0 {
		t.Errorf("a clean render made cajon local run warn:\n%s", strings.Join(bad, "\n"))
	}

	store, err := jobstore.Open(context.Background(), filepath.Join(state, jobstore.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	jobID, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		t.Fatalf("cajon local submit printed %q, not a job id", id)
	}
	info, tasks, err := store.Job(context.Background(), jobID)
	if err != nil {
		t.Fatal(err)
	}
	if info.State != "completed" || info.StepsDone != info.StepsTotal {
		t.Errorf("job %d: %s, %d of %d steps, want completed with every step (%s)", jobID, info.State, info.StepsDone, info.StepsTotal, info.Message)
	}
	if len(tasks) != len(job.Tasks) {
		t.Fatalf("the store has %d tasks, want %d", len(tasks), len(job.Tasks))
	}
	for _, ti := range tasks {
		if ti.Status != jobstore.TaskCompleted || ti.StepsDone != ti.StepsTotal || len(ti.Attempts) != 1 {
			t.Errorf("task %s: %s, %d of %d steps, %d attempts, want completed with every step in 1 attempt (%s)",
				ti.Name, ti.Status, ti.StepsDone, ti.StepsTotal, len(ti.Attempts), ti.Message)
		}
		log, err := os.ReadFile(ti.LogPath)
		if err != nil {
			t.Errorf("task %s: full log: %v", ti.Name, err)
		}
		switch ti.Type {
		case "blender":
			if n := strings.Count(string(log), "Saved: '"); n != testChunk {
				t.Errorf("task %s: the log has %d of Blender's Saved: lines, want %d:\n%s", ti.Name, n, testChunk, log)
			}
			if ti.Preview == "" {
				t.Errorf("task %s kept no preview", ti.Name)
			} else if f, err := os.Open(ti.Preview); err != nil {
				t.Errorf("task %s: preview: %v", ti.Name, err)
			} else {
				checkJPEG(t, "preview of task "+ti.Name, f)
				f.Close()
			}
		case "ffmpeg":
			if ti.Output != render.VideoFile() {
				t.Errorf("task %s: output %q, want the video %s", ti.Name, ti.Output, render.VideoFile())
			}
		default:
			t.Errorf("task %s of unexpected type %s", ti.Name, ti.Type)
		}
	}
	checkFrames(t, render)
	checkVideo(t, tl.ffprobe, render)
	// Previews are moved into the state directory, none is left in <temp>.
	left, _ := filepath.Glob(filepath.Join(tmp, "cajon-preview", "*", "*"))
	if len(left) > 0 {
		t.Errorf("previews left behind: %q", left)
	}
}

// warnings returns the lines of an hclog log at level WARN or ERROR.
func warnings(log string) []string {
	var bad []string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "[WARN]") || strings.Contains(line, "[ERROR]") {
			bad = append(bad, line)
		}
	}
	return bad
}
