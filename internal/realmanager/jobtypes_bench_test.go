//go:build unix

package realmanager

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/config"
	"github.com/cajonfarm/cajon/internal/testwait"
)

// BenchmarkJobTypes runs the Manager's stock job types and the job types
// published on Flamenco's website, each once with the stock flamenco-worker
// and once with Cajon (default settings: warm Blender sessions on), on one
// real Manager and the same scene, and prints a Markdown table of the job
// status, the wall time from submit to the job's end, and whether the two
// workers' images are equal pixel for pixel. It fails when Cajon does not
// complete a job that the stock worker completed, or when the pixels differ.
//
// The website's job types are GPL scripts that the project does not carry:
// they are read at run time from a Flamenco source tree named by
// FLAMENCO_SRC (a checkout or a bare git directory); without it their rows
// say how to get them.
//
//	FLAMENCO_SRC=/path/to/flamenco go test -run '^$' -bench '^BenchmarkJobTypes$' -benchtime 1x -v ./internal/realmanager/
func BenchmarkJobTypes(b *testing.B) {
	blender, _ := renderTools(b)
	m := startManager(b)
	blend := filepath.Join(m.Shared, "tiny.blend")
	makeScene(b, blender, blend)
	rows := jobTypeRows()
	src := os.Getenv("FLAMENCO_SRC")
	for i := range rows {
		if rows[i].script == "" {
			continue
		}
		if err := installJobType(m, src, rows[i].script); err != nil {
			rows[i].skip = err.Error()
		}
	}

	loadBefore := loadAverage()
	for n := 0; n < b.N; n++ {
		results := make([]jobTypeResult, len(rows))
		// All the stock worker's jobs, then all of Cajon's: each worker
		// starts once, as on a farm, and Cajon's warm Blender carries from
		// one job to the next as it would there.
		for _, w := range []string{"stock", "cajon"} {
			name := fmt.Sprintf("%s-jobtypes-%d", w, n)
			stop := startTableWorker(b, m, w, name)
			if stop == nil {
				continue
			}
			for i, r := range rows {
				if r.skip != "" {
					continue
				}
				out := filepath.Join(m.Shared, "render", fmt.Sprintf("%s-%s-%d", r.jobType, w, n))
				run := runJobType(m, r, blend, out, name)
				if w == "stock" {
					results[i].stock = run
				} else {
					results[i].cajon = run
				}
			}
			stop()
		}
		for i, r := range rows {
			res := &results[i]
			if r.skip != "" || res.cajon == nil {
				continue
			}
			if res.stock != nil && res.stock.status == "completed" && res.cajon.status != "completed" {
				b.Errorf("%s: the stock worker completed the job, Cajon's ended %s; tasks:%s",
					r.label, res.cajon.status, m.describeTasks(res.cajon.job))
			}
			if res.stock != nil && r.images {
				res.pixels, res.pixelsOK = comparePixels(res.stock.out, res.cajon.out)
				if !res.pixelsOK {
					b.Errorf("%s: the images differ between the workers: %s", r.label, res.pixels)
				}
			}
			if res.cajon.status == "completed" {
				res.bare = bareCommands(m, res.cajon.job)
			}
		}
		b.Logf("Flamenco Manager %s, Blender %s, load average %s before, %s after (%d CPUs)\n\n%s",
			m.Version(), blenderVersion(blender), loadBefore, loadAverage(), runtime.NumCPU(),
			jobTypeTable(rows, results, src))
	}
}

// jobTypeRow is one job type of the table and the settings it is submitted
// with, as the Blender add-on would evaluate them for the test scene.
type jobTypeRow struct {
	label   string // as the Manager lists it
	jobType string
	// script is the website's job compiler script, a path inside
	// Flamenco's source tree; "" for the Manager's stock job types.
	script string
	// settings are the job's settings for the scene blend, output under out.
	settings func(blend, out string) map[string]any
	images   bool   // whether the job writes images to compare
	skip     string // why the row was not run
}

func jobTypeRows() []jobTypeRow {
	return []jobTypeRow{
		{
			label: "Echo Sleep Test", jobType: "echo-sleep-test",
			settings: func(_, _ string) map[string]any {
				return map[string]any{"message": "job-type table", "sleep_duration_seconds": 1, "sleep_repeats": 1}
			},
		},
		{
			label: "Simple Blender Render", jobType: "simple-blender-render", images: true,
			settings: func(blend, out string) map[string]any {
				return renderJob{Frames: "1-6", Chunk: 2, FPS: 24, Blend: blend, OutDir: out}.settings()
			},
		},
		{
			// Four tiles of 32x18 and the merge of them into one image.
			label: "Single Image Render", jobType: "single-image-render", images: true,
			script: "web/project-website/content/third-party-jobs/single-image/single_image_render.js",
			settings: func(blend, out string) map[string]any {
				return map[string]any{
					"tile_size_x": 32, "tile_size_y": 18, "frame": 1,
					"render_output_root": filepath.Dir(out), "add_path_components": 0,
					"render_output_path": filepath.Join(out, "tiles"),
					"blendfile":          blend, "format": "PNG", "image_file_extension": ".png",
					"resolution_x": frameWidth, "resolution_y": frameHeight, "resolution_scale": 100,
				}
			},
		},
		{
			// Asks for OptiX, which this CPU-only node lacks: the script's
			// Python raises, Blender renders on the CPU.
			label: "Cycles OPTIX GPU", jobType: "cycles-optix-gpu", images: true,
			script: "web/project-website/content/third-party-jobs/cycles-optix-gpu/cycles_optix_gpu.js",
			settings: func(blend, out string) map[string]any {
				return map[string]any{
					"frames": "1-4", "chunk_size": 2,
					"render_output_root": filepath.Dir(out), "add_path_components": 0,
					"render_output_path": filepath.Join(out, "######"),
					"blendfile":          blend, "fps": 24, "format": "PNG", "image_file_extension": ".png",
					"has_previews": false,
				}
			},
		},
	}
}

// installJobType copies a website job type's script from Flamenco's source
// tree src into the Manager's scripts folder, which the Manager reads at
// every submission.
func installJobType(m *manager, src, script string) error {
	if src == "" {
		return errors.New("set FLAMENCO_SRC to a Flamenco checkout or bare git directory (e.g. a git clone of github.com/mateusabelli/flamenco)")
	}
	data, err := readFlamencoFile(src, script)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(m.Dir, "scripts", filepath.Base(script)), data, 0o644)
}

// readFlamencoFile reads path from a checkout at src, or from the HEAD
// commit of a bare git directory at src.
func readFlamencoFile(src, path string) ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(src, path))
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return data, err
	}
	out, gitErr := exec.Command("git", "--git-dir", src, "show", "HEAD:"+path).Output()
	if gitErr != nil {
		return nil, fmt.Errorf("FLAMENCO_SRC=%s has no %s, neither as a file nor in git HEAD (%v)", src, path, gitErr)
	}
	return out, nil
}

// flamencoCommit names the Flamenco source the website scripts came from.
func flamencoCommit(src string) string {
	for _, args := range [][]string{{"-C", src, "rev-parse", "--short", "HEAD"}, {"--git-dir", src, "rev-parse", "--short", "HEAD"}} {
		if out, err := exec.Command("git", args...).Output(); err == nil {
			return strings.TrimSpace(string(out))
		}
	}
	return "unknown commit"
}

// startTableWorker starts the stock worker or Cajon and waits until it is
// awake; it returns how to stop it, or nil when the stock worker is not
// installed.
func startTableWorker(tb testing.TB, m *manager, which, name string) (stop func()) {
	tb.Helper()
	if which == "cajon" {
		// Cajon's own defaults, not the quick polls that startCajon gives
		// tests: the table compares what an admin gets.
		def := config.Defaults()
		env := []string{
			config.EnvVar("manager.fetch_backoff_max") + "=" + def.Manager.FetchBackoffMax.String(),
			config.EnvVar("manager.asleep_poll_interval") + "=" + def.Manager.AsleepPollInterval.String(),
			config.EnvVar("kill_grace") + "=" + def.KillGrace.String(),
		}
		c := startCajon(tb, m, name, cajonOptions{env: env})
		m.waitWorker(name, "awake", 60*time.Second)
		return func() { stopCajon(tb, c) }
	}
	w := stockWorker(tb, m, name)
	if w == nil {
		return nil
	}
	return func() {
		_ = w.Process.Signal(syscall.SIGTERM)
		m.waitWorker(name, "offline", 60*time.Second)
	}
}

// jobTypeRun is one job of the table as one worker ran it.
type jobTypeRun struct {
	job      string
	out      string
	status   string
	wall     time.Duration
	tasks    int
	warnings int    // tasks whose activity says they completed with a warning
	warning  string // the first such activity
	// warm counts the tasks whose log says Cajon's Blender ran them in a
	// warm session; render counts those that say warm or cold.
	warm, render int
	coldWhy      string // the first cold render's reason, as its log gives it
}

// runJobType submits a row's job and waits for it to end, whatever the end.
func runJobType(m *manager, r jobTypeRow, blend, out, worker string) *jobTypeRun {
	m.tb.Helper()
	run := &jobTypeRun{out: out}
	start := time.Now()
	run.job = m.submit(r.jobType, r.label+" by "+worker, r.settings(blend, out))
	final := map[string]bool{"completed": true, "failed": true, "canceled": true}
	testwait.Within(m.tb, r.label+" by "+worker+" to end", 15*time.Minute, func() bool {
		run.status = m.jobStatus(run.job)
		return final[run.status]
	})
	run.wall = time.Since(start)
	for _, t := range m.tasks(run.job) {
		run.tasks++
		d := m.taskDetail(t.ID)
		if d.Worker.Name != "" && d.Worker.Name != worker {
			m.tb.Fatalf("%s: task %s ran on %s, not on %s: the timing is not the worker's", r.label, t.Name, d.Worker.Name, worker)
		}
		if strings.HasPrefix(d.Activity, "completed with") && strings.Contains(d.Activity, "warning") {
			run.warnings++
			if run.warning == "" {
				run.warning = d.Activity
			}
		}
		switch log := string(m.taskLog(t.ID)); {
		case strings.Contains(log, "cajon-plugin-blender: warm: "):
			run.warm++
			run.render++
		case strings.Contains(log, "cajon-plugin-blender: cold: "):
			run.render++
			if run.coldWhy == "" {
				_, why, _ := strings.Cut(log, "cajon-plugin-blender: cold: ")
				run.coldWhy, _, _ = strings.Cut(why, "\n")
			}
		}
	}
	return run
}

// taskDetail is what the Manager says of one task: its commands before
// variable replacement, its activity and its worker.
type taskDetail struct {
	Activity string `json:"activity"`
	Commands []struct {
		Name       string         `json:"name"`
		Parameters map[string]any `json:"parameters"`
	} `json:"commands"`
	Worker struct {
		Name string `json:"name"`
	} `json:"worker"`
}

func (m *manager) taskDetail(id string) taskDetail {
	m.tb.Helper()
	var d taskDetail
	m.do("GET", "/api/v3/tasks/"+id, nil, &d, 200)
	return d
}

// bareCommands runs the blender-render commands of a finished job by hand,
// one after the other as the job's tasks ran (same arguments, the
// Manager's variables replaced as startManager sets them), and returns
// their total time; zero when the job has none. It overwrites the job's
// output, so it runs after the comparison.
func bareCommands(m *manager, job string) time.Duration {
	m.tb.Helper()
	vars := map[string][]string{"{blender}": {"blender"}, "{blenderArgs}": {"-b", "-y"}}
	var total time.Duration
	for _, t := range m.tasks(job) {
		for _, c := range m.taskDetail(t.ID).Commands {
			if c.Name != "blender-render" {
				continue
			}
			var argv []string
			for _, key := range []string{"exe", "exeArgs", "argsBefore", "blendfile", "args"} {
				for _, a := range stringsOf(c.Parameters[key]) {
					if v, ok := vars[a]; ok {
						argv = append(argv, v...)
					} else {
						argv = append(argv, a)
					}
				}
			}
			start := time.Now()
			if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
				m.tb.Fatalf("bare %v: %v\n%s", argv, err, tailString(string(out), 4000))
			}
			total += time.Since(start)
		}
	}
	return total
}

// stringsOf is a command parameter as a list of words: a string is one
// word, a list is its strings.
func stringsOf(v any) []string {
	switch v := v.(type) {
	case string:
		if v == "" {
			return nil
		}
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			out = append(out, fmt.Sprint(e))
		}
		return out
	}
	return nil
}

// comparePixels decodes every image and video under two output folders
// with FFmpeg and compares the hashes of their pixels. It says which files
// it compared, or what differs.
func comparePixels(a, b string) (string, bool) {
	na, err := imagesUnder(a)
	if err != nil {
		return err.Error(), false
	}
	nb, err := imagesUnder(b)
	if err != nil {
		return err.Error(), false
	}
	if !slices.Equal(na, nb) {
		return fmt.Sprintf("different files: stock %v, Cajon %v", na, nb), false
	}
	if len(na) == 0 {
		return "no images written", false
	}
	for _, rel := range na {
		ha, err := pixelHash(filepath.Join(a, rel))
		if err != nil {
			return err.Error(), false
		}
		hb, err := pixelHash(filepath.Join(b, rel))
		if err != nil {
			return err.Error(), false
		}
		if ha != hb {
			return rel + " differs", false
		}
	}
	return "yes: " + strings.Join(na, ", "), true
}

// imagesUnder lists the images and videos under dir, relative to it.
func imagesUnder(dir string) ([]string, error) {
	imageExts := []string{".png", ".exr", ".jpg", ".mp4"}
	var names []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && slices.Contains(imageExts, filepath.Ext(p)) {
			rel, _ := filepath.Rel(dir, p)
			names = append(names, rel)
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	sort.Strings(names)
	return names, err
}

// pixelHash is the SHA-256 of a file's pixels as FFmpeg decodes them: 16
// bits per channel for PNG, JPEG and video, 32-bit float for EXR, whose
// multilayer files are read from their combined pass (FFmpeg decodes no
// layer by default).
func pixelHash(path string) (string, error) {
	args := []string{"-v", "error"}
	pixFmt := "rgba64le"
	if filepath.Ext(path) == ".exr" {
		args = append(args, "-layer", "ViewLayer.Combined")
		pixFmt = "gbrapf32le"
	}
	args = append(args, "-i", path, "-f", "rawvideo", "-pix_fmt", pixFmt, "-")
	out, err := exec.Command("ffmpeg", args...).Output()
	if err != nil {
		return "", fmt.Errorf("decoding %s with ffmpeg: %w", path, err)
	}
	if len(out) == 0 {
		return "", fmt.Errorf("decoding %s with ffmpeg: no pixels", path)
	}
	sum := sha256.Sum256(out)
	return hex.EncodeToString(sum[:]), nil
}

// jobTypeResult is one row's outcome.
type jobTypeResult struct {
	stock, cajon *jobTypeRun
	pixels       string
	pixelsOK     bool
	bare         time.Duration
}

// jobTypeTable writes the results as a Markdown table.
func jobTypeTable(rows []jobTypeRow, results []jobTypeResult, src string) string {
	var s strings.Builder
	s.WriteString("| job type | tasks | stock worker | Cajon | stock s | Cajon s | Cajon/stock | bare Blender s | pixels equal |\n")
	s.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	for i, r := range rows {
		label := r.label
		switch {
		case r.script != "" && r.skip != "":
			label += " (website)"
		case r.script != "":
			label += " (website, " + flamencoCommit(src) + ")"
		}
		if r.skip != "" {
			fmt.Fprintf(&s, "| %s | | not run: %s | | | | | | |\n", label, r.skip)
			continue
		}
		res := results[i]
		stockStatus, stockS, ratio, tasks := "not installed", "", "", ""
		if res.stock != nil {
			stockStatus, stockS = res.stock.status, secs(res.stock.wall)
			tasks = fmt.Sprint(res.stock.tasks)
		}
		cajonStatus, cajonS := "", ""
		if c := res.cajon; c != nil {
			cajonStatus, cajonS, tasks = c.status, secs(c.wall), fmt.Sprint(c.tasks)
			var notes []string
			if c.render > 0 {
				notes = append(notes, fmt.Sprintf("%d of %d renders warm", c.warm, c.render))
			}
			if c.warnings > 0 {
				notes = append(notes, fmt.Sprintf("%d of %d tasks with a warning", c.warnings, c.tasks))
			}
			if len(notes) > 0 {
				cajonStatus += " (" + strings.Join(notes, "; ") + ")"
			}
			if res.stock != nil {
				ratio = fmt.Sprintf("%.2f", c.wall.Seconds()/res.stock.wall.Seconds())
			}
		}
		bare := ""
		if res.bare > 0 {
			bare = secs(res.bare)
		}
		pixels := "n/a (no images)"
		switch {
		case r.images && res.stock == nil:
			pixels = "not compared (no stock run)"
		case r.images:
			pixels = res.pixels
		}
		fmt.Fprintf(&s, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			label, tasks, stockStatus, cajonStatus, stockS, cajonS, ratio, bare, pixels)
	}
	for i, r := range rows {
		if c := results[i].cajon; c != nil && c.coldWhy != "" {
			fmt.Fprintf(&s, "\n%s, why Cajon rendered cold: %q", r.label, c.coldWhy)
		}
		if c := results[i].cajon; c != nil && c.warning != "" {
			fmt.Fprintf(&s, "\n%s, Cajon's first warning: %q", r.label, c.warning)
		}
	}
	return s.String()
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1f", d.Seconds()) }

func blenderVersion(blender string) string {
	out, err := exec.Command(blender, "--version").Output()
	if err != nil {
		return "unknown"
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(strings.TrimPrefix(line, "Blender"))
}

func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
