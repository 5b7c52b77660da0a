package e2e

import (
	"encoding/json"
	"fmt"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	pluginv1 "github.com/cajonfarm/cajon/sdk/proto/cajon/plugin/v1"
	"github.com/cajonfarm/cajon/sdk/wire"
)

// Size of the test scene's frames (testdata/make_scene.py).
const frameWidth, frameHeight = 64, 36

// tools are the programs a render node runs, found in PATH.
type tools struct{ blender, ffmpeg, ffprobe string }

// needTools finds Blender, FFmpeg and ffprobe, or skips the test.
func needTools(tb testing.TB) tools {
	tb.Helper()
	var found tools
	for _, tool := range []struct {
		name string
		path *string
	}{{"blender", &found.blender}, {"ffmpeg", &found.ffmpeg}, {"ffprobe", &found.ffprobe}} {
		p, err := exec.LookPath(tool.name)
		if err != nil {
			tb.Skipf("%s is not installed (not in PATH): skipping the end-to-end render; CI installs blender and ffmpeg from the Debian packages", tool.name)
		}
		*tool.path = p
	}
	return found
}

// isolateTemp points the temporary folder of this process and of the
// plugins it starts (previews go to <temp>/cajon-preview) at a folder of the
// test's own, and returns it.
func isolateTemp(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	for _, v := range []string{"TMPDIR", "TEMP", "TMP"} {
		tb.Setenv(v, dir)
	}
	return dir
}

// makeScene saves the test scene (testdata/make_scene.py) in dir and
// returns its path.
func makeScene(tb testing.TB, blender, dir string) string {
	tb.Helper()
	script, err := filepath.Abs(filepath.Join("testdata", "make_scene.py"))
	if err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(dir, "scene.blend")
	out, err := exec.Command(blender, "-b", "--factory-startup", "--python", script, "--", path).CombinedOutput()
	if err != nil {
		tb.Fatalf("making the test scene with %s: %v\n%s", script, err, out)
	}
	if _, err := os.Stat(path); err != nil {
		tb.Fatalf("Blender did not save the test scene %s: %v\n%s", path, err, out)
	}
	return path
}

// testRender is the recorded Simple Blender Render job for the test scene:
// frames 1..n in chunks of chunk frames, to out, at the recorded 23.976 fps.
func testRender(tb testing.TB, scene, out string, frames, chunk int) SimpleBlenderRender {
	tb.Helper()
	s, err := RecordedSimpleBlenderRender()
	if err != nil {
		tb.Fatal(err)
	}
	s.BlendFile, s.RenderOutput = scene, out
	s.FrameStart, s.FrameEnd, s.ChunkSize = 1, frames, chunk
	return s
}

// mustJob compiles s, failing the test on a bad setting.
func mustJob(tb testing.TB, s SimpleBlenderRender, name string) Job {
	tb.Helper()
	job, err := s.Job(name)
	if err != nil {
		tb.Fatal(err)
	}
	return job
}

// checkFrames checks that every frame of s is a PNG of the scene's size.
func checkFrames(t *testing.T, s SimpleBlenderRender) {
	t.Helper()
	for n := s.FrameStart; n <= s.FrameEnd; n++ {
		path := s.FramePath(n)
		f, err := os.Open(path)
		if err != nil {
			t.Errorf("frame %d: %v", n, err)
			continue
		}
		cfg, err := png.DecodeConfig(f)
		f.Close()
		if err != nil || cfg.Width != frameWidth || cfg.Height != frameHeight {
			t.Errorf("frame %s: %dx%d (%v), want a %dx%d PNG", path, cfg.Width, cfg.Height, err, frameWidth, frameHeight)
		}
	}
}

// probe is what ffprobe says about a video.
type probe struct {
	Streams []struct {
		CodecName    string `json:"codec_name"`
		Width        int    `json:"width"`
		Height       int    `json:"height"`
		NbReadFrames string `json:"nb_read_frames"`
	} `json:"streams"`
	Format struct {
		Duration string `json:"duration"`
	} `json:"format"`
}

// checkVideo checks the preview video with ffprobe: H.264 of the frames'
// size, one video frame per rendered frame, lasting frames/fps.
func checkVideo(t *testing.T, ffprobe string, s SimpleBlenderRender) {
	t.Helper()
	video := s.VideoFile()
	out, err := exec.Command(ffprobe, "-v", "error", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=codec_name,width,height,nb_read_frames", "-show_entries", "format=duration",
		"-of", "json", video).Output()
	if err != nil {
		t.Errorf("ffprobe %s: %v", video, err)
		return
	}
	var p probe
	if err := json.Unmarshal(out, &p); err != nil || len(p.Streams) != 1 {
		t.Errorf("ffprobe %s said %s (%v), want one video stream", video, out, err)
		return
	}
	st := p.Streams[0]
	frames := s.FrameEnd - s.FrameStart + 1
	if st.CodecName != "h264" || st.Width != frameWidth || st.Height != frameHeight {
		t.Errorf("video %s: %s %dx%d, want h264 %dx%d", video, st.CodecName, st.Width, st.Height, frameWidth, frameHeight)
	}
	if st.NbReadFrames != strconv.Itoa(frames) {
		t.Errorf("video %s has %s frames, want %d", video, st.NbReadFrames, frames)
	}
	want := float64(frames) / s.FPS
	got, err := strconv.ParseFloat(p.Format.Duration, 64)
	if err != nil || math.Abs(got-want) > 0.5/s.FPS {
		t.Errorf("video %s lasts %q s, want %.3f s (%d frames at %v fps)", video, p.Format.Duration, want, frames, s.FPS)
	}
}

// checkJPEG checks that data is a JPEG preview of a whole frame (frames
// smaller than 512x512 keep their size).
func checkJPEG(t *testing.T, what string, r io.Reader) {
	t.Helper()
	cfg, err := jpeg.DecodeConfig(r)
	if err != nil || cfg.Width != frameWidth || cfg.Height != frameHeight {
		t.Errorf("%s: %dx%d (%v), want a %dx%d JPEG", what, cfg.Width, cfg.Height, err, frameWidth, frameHeight)
	}
}

// blenderArgv is the command line a worker runs for a blender-render
// command (Flamenco's rule: exe, exeArgs..., argsBefore..., blendfile,
// args...), with exe already resolved to a path.
func blenderArgv(exe string, c Command) []string {
	argv := []string{exe}
	argv = append(argv, strings.Fields(str(c.Parameters["exeArgs"]))...)
	argv = append(argv, strs(c.Parameters["argsBefore"])...)
	if bf := str(c.Parameters["blendfile"]); bf != "" {
		argv = append(argv, bf)
	}
	return append(argv, strs(c.Parameters["args"])...)
}

// ffmpegArgv is the command line cajon-plugin-ffmpeg runs for a
// frames-to-video command (docs/PLUGINS-RENDER.md) of Blender's frames,
// with exe already resolved to a path.
func ffmpegArgv(exe string, c Command) ([]string, error) {
	input, err := frameSequence(c)
	if err != nil {
		return nil, err
	}
	argv := []string{exe}
	argv = append(argv, strings.Fields(str(c.Parameters["exeArgs"]))...)
	argv = append(argv, "-nostdin", "-nostats", "-progress", "pipe:1")
	argv = append(argv, input[:len(input)-1]...)
	argv = append(argv, strs(c.Parameters["argsBefore"])...)
	argv = append(argv, "-i", input[len(input)-1])
	argv = append(argv, strs(c.Parameters["args"])...)
	return append(argv, str(c.Parameters["outputFile"])), nil
}

// frameSequence is how cajon-plugin-ffmpeg reads Blender's frames of a
// frames-to-video command (docs/PLUGINS-RENDER.md): a numbered sequence
// (######, zero-padded, consecutive) as an image2 sequence; its input
// options, then the input pattern last.
func frameSequence(c Command) ([]string, error) {
	frames, err := filepath.Glob(str(c.Parameters["inputGlob"]))
	if err != nil || len(frames) == 0 {
		return nil, fmt.Errorf("frames %s: %d found (%v)", c.Parameters["inputGlob"], len(frames), err)
	}
	slices.Sort(frames) // ######: zero-padded, so lexical order is frame order
	name := filepath.Base(frames[0])
	digits := strings.TrimRight(name, ".abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
	if len(digits) != 6 || strings.Trim(digits, "0123456789") != "" {
		return nil, fmt.Errorf("frame %s is not named ######.ext", frames[0])
	}
	first, _ := strconv.Atoi(digits)
	fps := c.Parameters["fps"].(float64)
	return []string{"-framerate", strconv.FormatFloat(fps, 'f', -1, 64), "-start_number", strconv.Itoa(first),
		"-pattern_type", "sequence", filepath.Join(filepath.Dir(frames[0]), "%06d"+filepath.Ext(name))}, nil
}

// strs is a list parameter as the plugins read it: numbers in it (the
// Manager's fps among FFmpeg's args) become their text.
func strs(v any) []string {
	if v == nil {
		return nil
	}
	out, err := wire.NormalizeValue(pluginv1.ParamType_PARAM_TYPE_STRING_LIST, v)
	if err != nil {
		panic(fmt.Sprintf("test job: %v", err))
	}
	return out.([]string)
}

// str is a string parameter, "" when absent.
func str(v any) string {
	s, _ := v.(string)
	return s
}

// commandLines returns the command lines a task log shows after prefix
// ("cajon-plugin-blender: running "), split into words like a POSIX shell.
func commandLines(t *testing.T, log, prefix string) [][]string {
	t.Helper()
	var out [][]string
	for _, line := range strings.Split(log, "\n") {
		if i := strings.Index(line, prefix); i >= 0 {
			words, err := shellWords(line[i+len(prefix):])
			if err != nil {
				t.Errorf("command line %q: %v", line, err)
				continue
			}
			out = append(out, words)
		}
	}
	return out
}

// shellWords splits s into words like a POSIX shell without expansions:
// blanks separate words, '...' is literal, "..." keeps all but \" \\ \$ \`,
// and \ escapes a character outside quotes.
func shellWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("unterminated single quote")
			}
			cur.WriteString(s[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case c == '"':
			inWord = true
			for i++; ; i++ {
				if i >= len(s) {
					return nil, fmt.Errorf("unterminated double quote")
				}
				if s[i] == '"' {
					break
				}
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
		case c == '\\':
			if i+1 >= len(s) {
				return nil, fmt.Errorf("trailing backslash")
			}
			i++
			cur.WriteByte(s[i])
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
