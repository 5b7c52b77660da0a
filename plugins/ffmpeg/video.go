package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/cajonfarm/cajon/plugins/internal/cmdline"
	"github.com/cajonfarm/cajon/plugins/internal/pluginconf"
	"github.com/cajonfarm/cajon/sdk"
	"github.com/cajonfarm/cajon/sdk/process"
	"github.com/cajonfarm/cajon/sdk/wire"
)

// FramesToVideo is the frames-to-video command, with the parameters
// Flamenco's Simple Blender Render job type sends.
type FramesToVideo struct {
	Exe        string   `param:"exe" desc:"FFmpeg to run: a path, or a name looked up in PATH. Empty, \"ffmpeg\" or \"ffmpeg.exe\": [plugins.ffmpeg] exe from cajon.toml, else tools/ffmpeg-<os>-<arch> beside the cajon binary, else ffmpeg from PATH."`
	ExeArgs    string   `param:"exeArgs" desc:"Arguments right after exe, as one string split into words as Flamenco's worker splits it (shlex: quotes, backslashes, # comments; no globbing)."`
	FPS        float64  `param:"fps,required" desc:"Frames per second of the video; each frame is shown for 1/fps s."`
	InputGlob  string   `param:"inputGlob" desc:"The frames to encode, e.g. /render/shot/*.png; expanded by the plugin (any OS), in natural order (frame2 before frame10)."`
	OutputFile string   `param:"outputFile" desc:"The video to write; its folder is created if needed."`
	ArgsBefore []string `param:"argsBefore" desc:"Arguments before the input (input options)."`
	Args       []string `param:"args" desc:"Arguments after the input, before outputFile, e.g. -c:v h264 -crf 20 -pix_fmt yuv420p -r 24 -y."`
}

// config is the plugin's [plugins.ffmpeg] table in cajon.toml, declared to
// the host (sdk.ConfigOf), which checks the table when the worker starts.
type config struct {
	// Exe is the FFmpeg to run when the task does not name one (or names
	// just "ffmpeg"): a path, or a name looked up in PATH.
	Exe string `json:"exe" desc:"FFmpeg to run when a task names none (or just \"ffmpeg\"): a path, or a name looked up in PATH; empty = tools/ffmpeg-<os>-<arch> beside the cajon binary, else ffmpeg in PATH."`
}

// errorTail is how many of FFmpeg's last log lines go into a failure message.
const errorTail = 6

// Run writes the concat list, runs FFmpeg and reports progress per frame.
func (f *FramesToVideo) Run(ctx context.Context, run *sdk.Run) error {
	var cfg config
	if err := pluginconf.Decode(run, "ffmpeg", &cfg); err != nil {
		return err
	}
	if f.FPS <= 0 || math.IsInf(f.FPS, 0) || math.IsNaN(f.FPS) {
		return fmt.Errorf("parameter fps must be a positive number of frames per second, got %v", f.FPS)
	}
	if f.OutputFile == "" {
		return errors.New("parameter outputFile is empty: give the video file to write")
	}
	param := f.Exe
	if strings.EqualFold(param, "ffmpeg.exe") {
		param = "ffmpeg" // as the stock worker: find it, bundled or in PATH
	}
	exe, err := cmdline.Program{Name: "ffmpeg", Plugin: "ffmpeg", Param: param, Configured: cfg.Exe, Dir: run.WorkDir,
		Bundled: bundledFFmpeg(sdk.HostDir(), runtime.GOOS, runtime.GOARCH)}.Find()
	if err != nil {
		return err
	}
	exeArgs, err := cmdline.Split(f.ExeArgs)
	if err != nil {
		return fmt.Errorf("parameter exeArgs: %w", err)
	}
	frames, err := expandGlob(f.InputGlob, run.WorkDir)
	if err != nil {
		return err
	}
	// In the plugin's private folder, which the host removes with the
	// plugin: a plugin killed meanwhile leaves nothing in /tmp.
	tmp, err := os.MkdirTemp(os.Getenv(wire.EnvPrivateDir), "cajon-ffmpeg-")
	if err != nil {
		return fmt.Errorf("creating a temporary folder for FFmpeg's input: %w", err)
	}
	defer os.RemoveAll(tmp)
	input, err := inputFor(frames, f.FPS, tmp)
	if err != nil {
		return err
	}
	output := f.OutputFile
	if !filepath.IsAbs(output) && run.WorkDir != "" {
		output = filepath.Join(run.WorkDir, output)
	}
	if output, err = filepath.Abs(output); err != nil {
		return fmt.Errorf("outputFile %s: %w", f.OutputFile, err)
	}
	if err := os.MkdirAll(filepath.Dir(output), 0o755); err != nil {
		return fmt.Errorf("creating the folder of outputFile %s: %w", output, err)
	}

	args := ffmpegArgs(exeArgs, input, f.ArgsBefore, f.Args, output)
	total := int64(len(frames))
	run.Progress(0, total)
	run.Activity(fmt.Sprintf("encoding %d frames", total))
	run.Logf("cajon-plugin-ffmpeg: %d frames from %s, first %s, last %s, read as %s", total, f.InputGlob, frames[0], frames[len(frames)-1], input.how)
	run.Logf("cajon-plugin-ffmpeg: running %s", cmdline.Join(append([]string{exe}, args...)))

	tail := cmdline.NewTail(errorTail)
	res, err := run.Exec(ctx, process.Command{
		Path: exe,
		Args: args,
		OnLine: func(s process.Stream, line string) {
			if s == process.Stdout {
				// -progress pipe:1: key=value lines, a block per update.
				if n, ok := progressFrame(line); ok {
					done := min(n, total)
					run.Progress(done, total)
					run.Activity(fmt.Sprintf("encoding frame %d/%d", done, total))
				}
				return
			}
			run.Log(line)
			if strings.TrimSpace(line) == "" {
				return
			}
			tail.Add(line)
		},
	})
	if ctx.Err() != nil {
		return ctx.Err() // aborted: the SDK reports it as canceled
	}
	if err != nil {
		return fmt.Errorf("running FFmpeg %s: %w", exe, err)
	}
	if res.ExitCode != 0 {
		how := fmt.Sprintf("exited with status %d", res.ExitCode)
		if res.Signal != "" {
			how = "was killed by a signal (" + res.Signal + ")"
		}
		msg := fmt.Sprintf("FFmpeg %s encoding %s", how, f.OutputFile)
		if lines := tail.Lines(); len(lines) > 0 {
			msg += "; last output:\n" + strings.Join(lines, "\n")
		}
		return errors.New(msg)
	}
	run.Progress(total, total)
	run.Output(output, videoType(output))
	return nil
}

// ffmpegArgs is FFmpeg's command line after the program: exeArgs, then our
// global options (machine-readable progress on stdout instead of the stats
// line; never wait for a keypress), the frames' input options, argsBefore
// (the task's input options, after ours so that they win), the input, args
// and the output file.
func ffmpegArgs(exeArgs []string, in frameInput, argsBefore, args []string, output string) []string {
	out := append([]string(nil), exeArgs...)
	out = append(out, "-nostdin", "-nostats", "-progress", "pipe:1")
	out = append(out, in.opts...)
	out = append(out, argsBefore...)
	out = append(out, "-i", in.file)
	out = append(out, args...)
	return append(out, output)
}

// bundledFFmpeg are the FFmpeg binaries a Flamenco worker bundle ships in
// tools/ beside the worker, most specific first, as the stock worker looks
// for them: ffmpeg-<os>-<arch>, ffmpeg-<os>, ffmpeg (with .exe on Windows).
// None when the host's folder is not known.
func bundledFFmpeg(hostDir, goos, goarch string) []string {
	if hostDir == "" {
		return nil
	}
	exe := ""
	if goos == "windows" {
		exe = ".exe"
	}
	tools := filepath.Join(hostDir, "tools")
	return []string{
		filepath.Join(tools, "ffmpeg-"+goos+"-"+goarch+exe),
		filepath.Join(tools, "ffmpeg-"+goos+exe),
		filepath.Join(tools, "ffmpeg"+exe),
	}
}

// progressFrame reads "frame=N" from FFmpeg's -progress output.
func progressFrame(line string) (int64, bool) {
	v, ok := strings.CutPrefix(line, "frame=")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// videoTypes maps video file extensions to MIME types (a fixed table, not
// the machine's).
var videoTypes = map[string]string{
	".mp4": "video/mp4", ".m4v": "video/mp4", ".mkv": "video/x-matroska",
	".mov": "video/quicktime", ".webm": "video/webm", ".avi": "video/x-msvideo",
	".ogv": "video/ogg", ".mpg": "video/mpeg", ".mpeg": "video/mpeg",
	".gif": "image/gif", ".flv": "video/x-flv",
}

// videoType is the MIME type of the output, "" when unknown.
func videoType(path string) string {
	return videoTypes[strings.ToLower(filepath.Ext(path))]
}
