package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/cajonfarm/cajon/sdk/phrase"

	"github.com/cajonfarm/cajon/plugins/internal/cmdline"
	"github.com/cajonfarm/cajon/plugins/internal/ospath"
	"github.com/cajonfarm/cajon/sdk"
	"github.com/cajonfarm/cajon/sdk/process"
)

// Render is the blender-render command, with the parameters Flamenco's
// Simple Blender Render job type sends.
type Render struct {
	Exe        string   `param:"exe" desc:"Blender to run: a path, or a name looked up in PATH. Empty or \"blender\": [plugins.blender] exe from cajon.toml, else blender from PATH."`
	ExeArgs    string   `param:"exeArgs" desc:"Arguments right after exe, as one string split into words as Flamenco's worker splits it (shlex: quotes, backslashes, # comments; no globbing), e.g. \"-b -y\"."`
	ArgsBefore []string `param:"argsBefore" desc:"Arguments before the blend file."`
	BlendFile  string   `param:"blendfile" desc:"The blend file to render; left out of the command line when empty."`
	Args       []string `param:"args" desc:"Arguments after the blend file, e.g. --render-output, --render-format, --render-frame."`

	warm   *sessions // the plugin's warm Blender; nil: always cold
	device string    // the worker identity's Cycles device (device.go); "" = the scene's
}

// outputTail is how many of Blender's last lines go into a failure message
// when Blender itself reported nothing more specific.
const outputTail = 8

// Run renders, reporting a step per finished frame, each written file as an
// output, and a preview of each PNG or JPEG frame: in the job's warm Blender
// when it can (warm.go), else in a Blender of its own.
func (r *Render) Run(ctx context.Context, run *sdk.Run) error {
	cfg, err := loadConfig(run)
	if err != nil {
		return err
	}
	if r.warm != nil {
		r.warm.noteJob(run.JobID)
	}
	exe, err := findBlender(cmdline.Program{Name: "blender", Plugin: "blender", Param: r.Exe, Configured: cfg.Exe, Dir: run.WorkDir}, run.Logf)
	if err != nil {
		return err
	}
	exeArgs, err := cmdline.Split(r.ExeArgs)
	if err != nil {
		return fmt.Errorf("parameter exeArgs: %w", err)
	}
	if r.BlendFile != "" {
		if err := checkBlendFile(resolve(run.WorkDir, r.BlendFile)); err != nil {
			return err
		}
	}
	args := append(append([]string(nil), exeArgs...), r.ArgsBefore...)
	if r.BlendFile != "" {
		args = append(args, r.BlendFile)
	}
	args = append(args, r.Args...)
	if args, err = r.onDevice(run, args); err != nil {
		return err
	}

	// Blenders that start together (chunks of one job) race to create a new
	// output folder, and the loser fails to save its frame: make it first.
	for _, dir := range outputDirsInArgs(ospath.Native, args) {
		dir = resolve(run.WorkDir, dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("creating the render output folder %s: %w", dir, err)
		}
	}

	total := framesInArgs(args)
	if script := workAfterFrames(args); script != "" && cfg.ExitTimeout > 0 && total > 0 {
		run.Logf("cajon-plugin-blender: [plugins.blender] exit_timeout does not apply to this task: its %s after the last frame runs once the frames are saved", script)
		cfg.ExitTimeout = 0
	}
	run.Progress(0, total)
	run.Activity("starting Blender")

	var previews *previewer
	if cfg.Previews {
		root := os.TempDir()
		removeStalePreviews(root, previewStaleAge, time.Now())
		previews = startPreviewer(ctx, previewDir(root, run.RunID), run, cfg.PreviewFFmpeg)
	}
	blendDir := ""
	if r.BlendFile != "" {
		blendDir = filepath.Dir(resolve(run.WorkDir, r.BlendFile))
	}
	err = r.render(ctx, run, cfg, exe, exeArgs, args, newRenderOutput(run, previews, total, askedFramesInArgs(args, blendDir)))
	if previews != nil {
		previews.finish()
	}
	return err
}

// render renders in the warm Blender when the task can, else cold; the task
// log says which, and why cold.
func (r *Render) render(ctx context.Context, run *sdk.Run, cfg config, exe string, exeArgs, args []string, out *renderOutput) error {
	why := "[plugins.blender] warm_sessions is off"
	if r.warm != nil && cfg.WarmSessions {
		var wt warmTask
		if wt, why = warmFor(exe, exeArgs, r.ArgsBefore, r.BlendFile, r.Args, run.WorkDir, run.Env); why == "" {
			wt = wt.onDevice(r.device)
			o, err := r.renderWarm(ctx, run, cfg, wt, out)
			if o.rendered {
				return err
			}
			if o.dirty {
				out = newRenderOutput(run, out.previews, out.total, out.asked)
			}
			why = o.cold
		}
	}
	if r.warm != nil {
		r.warm.dropOtherJobs(run.JobID)
	}
	run.Logf("cajon-plugin-blender: cold: %s", why)
	return renderCold(ctx, run, cfg, exe, args, out)
}

// renderCold runs a Blender of its own for the task.
func renderCold(ctx context.Context, run *sdk.Run, cfg config, exe string, args []string, out *renderOutput) error {
	run.Logf("cajon-plugin-blender: running %s", cmdline.Join(append([]string{exe}, args...)))
	logDevice(run)
	bctx, endBlender := context.WithCancelCause(ctx)
	defer endBlender(nil)
	stopWatch := watchExit(out, time.Duration(cfg.ExitTimeout), func() { endBlender(errNoExit) })
	res, err := run.Exec(bctx, process.Command{
		Path:   exe,
		Args:   args,
		OnLine: func(_ process.Stream, line string) { out.line(line) },
	})
	stopWatch()
	if ctx.Err() != nil {
		return ctx.Err() // aborted: the SDK reports it as canceled
	}
	if res.Canceled && errors.Is(context.Cause(bctx), errNoExit) {
		// Ended by us, not by the task's abort: only the ending's own
		// canceled error is expected; anything else (a process that
		// survived SIGKILL) still fails the task.
		if err = withoutCanceled(err); err != nil {
			return fmt.Errorf("running Blender %s: ending it after it did not exit: %w", exe, err)
		}
		run.Warn(noExitWarning(res.Pid, cfg))
		// The frames are written: judged as a Blender that exited by itself.
		return finishRender(run, process.Result{Pid: res.Pid}, out, cfg)
	}
	if err != nil {
		return fmt.Errorf("running Blender %s: %w", exe, err)
	}
	return finishRender(run, res, out, cfg)
}

// errNoExit is the cause of ending a Blender that did not exit after its
// last frame.
var errNoExit = errors.New("blender did not exit after its last frame ([plugins.blender] exit_timeout)")

// watchExit calls end when out's render saved every frame and then the
// exit timeout passed (never with a timeout of 0). The returned stop ends
// the watch; it is safe to call more than once.
func watchExit(out *renderOutput, timeout time.Duration, end func()) (stop func()) {
	if timeout <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	var once sync.Once
	go func() {
		select {
		case <-out.finished:
		case <-done:
			return
		}
		t := time.NewTimer(timeout)
		defer t.Stop()
		select {
		case <-t.C:
			end()
		case <-done:
		}
	}()
	return func() { once.Do(func() { close(done) }) }
}

// noExitWarning names the hang for the task log and the host's warnings.
func noExitWarning(pid int, cfg config) string {
	return fmt.Sprintf("Blender (pid %d) saved every frame asked for but did not exit within %s after its last frame ([plugins.blender] exit_timeout): "+
		"its processes were ended; the frames are written, so the task is not failed for it. "+
		"A script or add-on of the scene likely keeps Blender from quitting (an atexit or render_complete handler).",
		pid, time.Duration(cfg.ExitTimeout))
}

// withoutCanceled is err (one error, or several joined) without the
// context.Canceled errors in it; nil if nothing else is left.
func withoutCanceled(err error) error {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	var rest []error
	for _, e := range errs {
		if e != nil && !errors.Is(e, context.Canceled) {
			rest = append(rest, e)
		}
	}
	return errors.Join(rest...)
}

// renderOutput follows the output of one render: the log, progress,
// outputs and previews. Its line calls must not overlap.
type renderOutput struct {
	run      *sdk.Run
	previews *previewer
	total    int64
	asked    askedFrames
	started  time.Time // frames on disk older than this are not this render's
	tr       tracker
	tail     *cmdline.Tail
	// finished is closed once Blender saved every frame asked for and is
	// through with the last one: from then on it only has to exit (or, warm,
	// answer). Never closed when the count of frames is not known.
	finished chan struct{}
}

func newRenderOutput(run *sdk.Run, previews *previewer, total int64, asked askedFrames) *renderOutput {
	return &renderOutput{run: run, previews: previews, total: total, asked: asked, started: time.Now(),
		tail: cmdline.NewTail(outputTail), finished: make(chan struct{})}
}

// line takes one line of Blender's output.
func (o *renderOutput) line(line string) {
	run := o.run
	run.Log(line)
	o.tail.Add(line)
	u := o.tr.feed(line)
	if u.activity != "" {
		run.Activity(u.activity)
	}
	if u.saved != "" {
		path := resolve(run.WorkDir, u.saved)
		run.Output(path, mimeType(path))
		if o.previews != nil && o.previews.canPreview(path) {
			o.previews.offer(path)
		}
	}
	if u.frameDone {
		done := o.tr.done
		if o.total > 0 && done > o.total {
			done = o.total // more Saved lines than frames asked: never past 100%
		}
		run.Progress(done, o.total)
	}
	if o.tr.throughAll(u, o.total) && !isClosed(o.finished) {
		close(o.finished)
	}
}

// finishRender judges a render that ended as res said. A render that
// completes despite Blender's complaints says so in warnings.
func finishRender(run *sdk.Run, res process.Result, out *renderOutput, cfg config) error {
	if out.tr.crashFile != "" {
		logCrashReport(run, out.tr.crashFile)
	}
	tr := &out.tr
	// Frames written: those Blender said it saved. Only when it complained
	// about nothing does a frame that it finished (Time:) without a Saved
	// line count too, as before: it prints Time: after a failed save.
	written := tr.saved
	if len(tr.problemsOf(lineError, lineMissing)) == 0 {
		written = max(written, tr.done)
	}
	if out.total > 0 && written < out.total {
		// Blender's lines fell short (a log level that hides them, a script
		// that saves frames itself): what is on disk decides.
		if n := out.asked.onDisk(run.WorkDir, out.started); n > written {
			run.Logf("cajon-plugin-blender: Blender's output showed %d of the %d frames asked for as saved; %d of them are on disk, written during this render", written, out.total, n)
			written = n
		}
	}
	warnings, err := verdict(res, tr, out.tail.Lines(), frameCount{asks: out.asked.asks, total: out.total, written: written}, cfg)
	for _, w := range warnings {
		run.Warn("cajon-plugin-blender: " + w)
	}
	return err
}

// frameCount is how many frames a render was asked for and wrote.
type frameCount struct {
	asks           bool  // the arguments ask for frames (-f, -a)
	total, written int64 // total 0: the count depends on the scene
}

// verdict decides whether the render failed, and says why in words a farm
// admin can act on. Blender's error and missing-file lines fail it only
// when a frame asked for is missing, as the stock Flamenco worker completes
// such renders (it judges Blender's exit status alone), unless the strict
// settings ask otherwise; a render that completes despite them gets a
// warning for each kind of problem.
func verdict(res process.Result, tr *tracker, tail []string, fc frameCount, cfg config) ([]string, error) {
	errs, missing := tr.problemsOf(lineError), tr.problemsOf(lineMissing)
	complained := len(errs)+len(missing) > 0
	var why string
	switch {
	case res.ExitCode != 0:
		why = "Blender " + exitDescription(res)
	case tr.crashFile != "":
		why = "Blender crashed"
	case cfg.FailOnErrorLines && len(errs) > 0:
		why = "Blender reported errors ([plugins.blender] fail_on_error_lines)"
	case cfg.FailOnMissingFiles && len(missing) > 0:
		why = "Blender could not open files the scene needs ([plugins.blender] fail_on_missing_files)"
	case fc.total > 0 && fc.written == 0:
		why = fmt.Sprintf("Blender exited without rendering any of the %d frames asked for", fc.total)
	case complained && fc.total > 0 && fc.written < fc.total:
		why = fmt.Sprintf("Blender reported problems and wrote only %d of the %d frames asked for", fc.written, fc.total)
	case complained && fc.asks && fc.total == 0 && fc.written == 0:
		why = "Blender reported problems and wrote no frame"
	default:
		var warnings []string
		done := "the render completed"
		switch {
		case fc.total > 0:
			done = "every frame asked for was saved"
		case fc.asks:
			done = fmt.Sprintf("it saved %d frames", fc.written)
		}
		if len(errs) > 0 {
			warnings = append(warnings, fmt.Sprintf("Blender reported %s, but %s: %s", phrase.Count(len(errs), "error"), done, headline(errs[0])))
		}
		if len(missing) > 0 {
			warnings = append(warnings, fmt.Sprintf("Blender could not open files the scene needs (%s), but %s: %s", phrase.Count(len(missing), "message"), done, headline(missing[0])))
		}
		return warnings, nil
	}
	return nil, failure(why, tr, tail)
}

// headline is a problem in one line: a Python traceback as its first and
// last lines (the exception).
func headline(p problem) string {
	lines := strings.Split(p.text, "\n")
	if len(lines) == 1 {
		return p.text
	}
	return strings.TrimSpace(lines[0]) + " ... " + strings.TrimSpace(lines[len(lines)-1])
}

// failure is the error of a failed render: why, then what Blender
// complained about, or else its last lines.
func failure(why string, tr *tracker, tail []string) error {
	if len(tr.problems) > 0 {
		return errors.New(why + ":\n" + summary(tr.problems, tr.extraProblems))
	}
	if len(tail) > 0 {
		return errors.New(why + "; last output:\n" + strings.Join(tail, "\n"))
	}
	return errors.New(why)
}

// exitDescription says how a process ended: "exited with status 1",
// "was killed by a signal (segmentation fault)".
func exitDescription(res process.Result) string {
	if res.Signal != "" {
		return "was killed by a signal (" + res.Signal + ")"
	}
	return fmt.Sprintf("exited with status %d", res.ExitCode)
}

// checkBlendFile fails early, with the path, when the blend file is not
// there: clearer than Blender's own message, and no Blender start-up.
func checkBlendFile(path string) error {
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("blend file %s does not exist (is the shared storage mounted on this worker?)", path)
	case err != nil:
		return fmt.Errorf("blend file %s: %w", path, err)
	case info.IsDir():
		return fmt.Errorf("blend file %s is a directory", path)
	}
	return nil
}

// crashReportLines is how much of Blender's crash report goes to the log.
const crashReportLines = 60

// logCrashReport copies the start of Blender's crash report (its backtrace)
// into the task log, where the admin will look for it.
func logCrashReport(run *sdk.Run, path string) {
	f, err := os.Open(path)
	if err != nil {
		run.Logf("cajon-plugin-blender: cannot read Blender's crash report %s: %v", path, err)
		return
	}
	defer f.Close()
	run.Logf("cajon-plugin-blender: Blender's crash report %s:", path)
	sc := bufio.NewScanner(f)
	for n := 0; n < crashReportLines && sc.Scan(); n++ {
		run.Log(sc.Text())
	}
}

// previewer makes previews in the background, newest frame first: while one
// is being made, a newer frame replaces any frame still waiting, so a fast
// render never queues up work (the Manager only shows the latest image).
type previewer struct {
	ctx  context.Context
	dir  string
	run  *sdk.Run
	next chan string // the newest frame waiting for a preview, if any
	done chan struct{}

	ffmpeg    string // for frames Go cannot read; "" when there is none
	noFFmpeg  string // why there is none, said once at the first such frame
	saidWhyNo bool
	failed    int // previews that could not be made; the first says why
}

// startPreviewer starts making previews into dir. ffmpeg is the configured
// preview_ffmpeg.
func startPreviewer(ctx context.Context, dir string, run *sdk.Run, ffmpeg string) *previewer {
	p := &previewer{ctx: ctx, dir: dir, run: run, next: make(chan string, 1), done: make(chan struct{})}
	switch path, err := exec.LookPath(ffmpeg); {
	case ffmpeg == "":
		p.noFFmpeg = "[plugins.blender] preview_ffmpeg is empty"
	case err != nil:
		p.noFFmpeg = fmt.Sprintf("ffmpeg %q was not found (set [plugins.blender] preview_ffmpeg): %v", ffmpeg, err)
	default:
		p.ffmpeg = path
	}
	go p.work()
	return p
}

// canPreview reports whether a preview of frame can be made. Calls must not
// be concurrent.
func (p *previewer) canPreview(frame string) bool {
	if goDecodes(frame) {
		return true
	}
	if _, ok := ffmpegInputArgs(frame); !ok {
		return false
	}
	if p.ffmpeg == "" && !p.saidWhyNo {
		p.saidWhyNo = true
		p.run.Logf("cajon-plugin-blender: no previews of %s frames: %s", strings.ToUpper(strings.TrimPrefix(filepath.Ext(frame), ".")), p.noFFmpeg)
	}
	return p.ffmpeg != ""
}

// offer asks for a preview of frame. Calls must not be concurrent.
func (p *previewer) offer(frame string) {
	select {
	case <-p.next: // a newer frame wins
	default:
	}
	p.next <- frame
}

// finish waits for the last preview.
func (p *previewer) finish() {
	close(p.next)
	<-p.done
	if p.failed > 1 {
		p.run.Logf("cajon-plugin-blender: INFO: %d more frames got no preview either", p.failed-1)
	}
}

// noPreview notes a preview that could not be made. A preview is a nicety:
// the first says why in an INFO line without the word "error" (FFmpeg's
// "Error while decoding" would read as a failed render to whoever scans
// the log), the others are only counted.
func (p *previewer) noPreview(frame string, err error) {
	p.failed++
	if p.failed == 1 {
		p.run.Logf("cajon-plugin-blender: INFO: no preview of %s: %s", filepath.Base(frame), withoutErrorWord(err.Error()))
	}
}

// errorWord is the word "error" in any case, alone or in a longer word.
var errorWord = regexp.MustCompile(`(?i)error`)

// withoutErrorWord replaces the word "error" in a message with "problem".
func withoutErrorWord(msg string) string { return errorWord.ReplaceAllString(msg, "problem") }

func (p *previewer) work() {
	defer close(p.done)
	n := 0
	for frame := range p.next {
		n++
		dst := filepath.Join(p.dir, previewName(ospath.Native, n, frame))
		var err error
		if goDecodes(frame) {
			err = makePreview(frame, dst, previewMaxW, previewMaxH)
		} else {
			err = makePreviewFFmpeg(p.ctx, p.run, p.ffmpeg, frame, dst, previewMaxW, previewMaxH)
		}
		if p.ctx.Err() != nil {
			return // aborted: the preview does not matter any more
		}
		if err != nil {
			p.noPreview(frame, err)
			continue
		}
		p.run.Output(dst, "image/jpeg")
	}
}
