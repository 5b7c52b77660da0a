package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cajonfarm/cajon/sdk/bytesize"

	"github.com/cajonfarm/cajon/plugins/internal/pluginconf"
)

// config is the plugin's [plugins.blender] table in cajon.toml; the plugin
// declares it to the host (sdk.ConfigOf), which checks the table when the
// worker starts.
type config struct {
	// Exe is the Blender to run when the task does not name one (or names
	// just "blender"): a path, or a name looked up in PATH.
	Exe string `json:"exe" desc:"Blender to run when a task names none (or just \"blender\"): a path, or a name looked up in PATH; empty = blender in PATH."`
	// FailOnErrorLines fails the task when Blender prints an error line
	// ("Error: ...", a Python traceback) even if it exits with status 0 and
	// saved every frame. Off: such a render completes with a warning, as
	// the stock Flamenco worker completes it.
	FailOnErrorLines bool `json:"fail_on_error_lines" desc:"Strict: fail the task when Blender prints an error line (Error: ..., a Python traceback) even if it saved every frame; off: the task completes with a warning, failing only when a frame asked for was not written."`
	// FailOnMissingFiles fails the task when Blender cannot open a file the
	// scene needs (a linked library, an image), even if it saved every frame.
	FailOnMissingFiles bool `json:"fail_on_missing_files" desc:"Strict: fail the task when Blender cannot open a file the scene needs (a linked library, an image) even if it saved every frame; off: the task completes with a warning, failing only when a frame asked for was not written."`
	// Previews makes a small JPEG of each rendered frame for the host.
	Previews bool `json:"previews" desc:"Make a small JPEG preview of each rendered frame for the Manager."`
	// PreviewFFmpeg is the ffmpeg that makes the previews of EXR and TIFF
	// frames (a path, or a name looked up in PATH); "" or a missing ffmpeg
	// means those frames get none. PNG and JPEG frames never need it.
	PreviewFFmpeg string `json:"preview_ffmpeg" desc:"FFmpeg that makes the previews of EXR and TIFF frames (a path, or a name in PATH); empty = none for those."`
	// ExitTimeout is how long Blender gets to exit once it saved every
	// frame asked for and printed its last Time: line. A Blender that
	// takes longer (a script or add-on that keeps it from quitting) has its
	// process tree ended and the task completes with a warning: its frames
	// are written, and failing it would only have them rendered again.
	// 0 waits for ever, as the stock Flamenco worker does.
	ExitTimeout duration `json:"exit_timeout" type:"string" desc:"How long Blender gets to exit after it saved every frame asked for; then its processes are ended and the task completes with a warning: a Go duration (\"60s\") or seconds, 0 = wait for ever."`
	// WarmSessions keeps a Blender with the scene loaded between the tasks
	// of a job (warm.go) instead of starting one per task.
	WarmSessions bool `json:"warm_sessions" desc:"Keep a Blender with the scene loaded between the tasks of a job."`
	// WarmIdle stops a warm Blender that had no task for this long.
	WarmIdle duration `json:"warm_idle" type:"string" desc:"Stop a warm Blender that had no task for this long: a Go duration (\"60s\") or seconds."`
	// WarmMaxTasks stops a warm Blender after this many tasks.
	WarmMaxTasks int `json:"warm_max_tasks" desc:"Stop a warm Blender after this many tasks."`
	// WarmMaxRSS bounds the memory of all the plugin's warm Blenders
	// together: past it, idle ones stop, least recently used first. (It
	// was the limit of each one when a plugin kept the Blenders of one job
	// only; with one warm Blender the two are the same.)
	WarmMaxRSS memLimit `json:"warm_max_rss" type:"string" desc:"Bound the memory of all warm Blenders together: past it, idle ones stop, least recently used first. \"16GiB\", \"500MB\", \"50%\" of the machine's, bytes, or \"0\" for no limit."`
	// WarmMaxSessions is how many warm Blenders the plugin keeps, of any
	// jobs: a new one past it stops the least recently used idle one.
	WarmMaxSessions int `json:"warm_max_sessions" desc:"How many warm Blenders to keep, of all jobs together; a task that needs a new one when there are this many stops the least recently used idle one, or renders cold when all are busy."`
}

// defaultConfig is the configuration of a node without a [plugins.blender]
// table: a render fails when Blender fails or a frame is missing, as with
// the stock Flamenco worker (complaints are warnings), with previews and
// warm sessions.
func defaultConfig() config {
	return config{
		Previews: true, PreviewFFmpeg: "ffmpeg", ExitTimeout: duration(defaultExitTimeout),
		WarmSessions: true, WarmIdle: duration(60 * time.Second), WarmMaxTasks: 100,
		WarmMaxRSS: memLimit{Percent: 50}, WarmMaxSessions: defaultWarmMaxSessions,
	}
}

// defaultWarmMaxSessions is [plugins.blender] warm_max_sessions when not
// set: one more than the two tasks a node usually runs at once (the local
// queue's two slots, or two identities, one per GPU, sharing this plugin),
// so that while both render, the session of a job between its tasks stays
// warm. Each one holds a scene in memory: warm_max_rss bounds them too.
const defaultWarmMaxSessions = 3

// defaultExitTimeout is [plugins.blender] exit_timeout when not set: far
// longer than any Blender needs to tidy up after its last frame, far
// shorter than a night.
const defaultExitTimeout = 60 * time.Second

// loadConfig reads the [plugins.blender] table over the defaults.
func loadConfig(src pluginconf.Source) (config, error) {
	cfg := defaultConfig()
	if err := pluginconf.Decode(src, "blender", &cfg); err != nil {
		return config{}, err
	}
	if err := cfg.check(); err != nil {
		return config{}, err
	}
	return cfg, nil
}

// check rejects values that decode but make no sense.
func (c config) check() error {
	switch {
	case c.ExitTimeout < 0:
		return fmt.Errorf("[plugins.blender] exit_timeout must be a duration such as \"60s\", or 0 to wait for ever, not %s", time.Duration(c.ExitTimeout))
	case c.WarmIdle <= 0:
		return fmt.Errorf("[plugins.blender] warm_idle must be a positive duration such as \"60s\", not %s", time.Duration(c.WarmIdle))
	case c.WarmMaxTasks < 1:
		return fmt.Errorf("[plugins.blender] warm_max_tasks must be at least 1, not %d (turn warm sessions off with warm_sessions = false)", c.WarmMaxTasks)
	case c.WarmMaxSessions < 1:
		return fmt.Errorf("[plugins.blender] warm_max_sessions must be at least 1, not %d (turn warm sessions off with warm_sessions = false)", c.WarmMaxSessions)
	}
	return nil
}

// duration is a time.Duration written as a Go duration string ("60s",
// "2m30s") or a number of seconds.
type duration time.Duration

// MarshalJSON writes the duration as UnmarshalJSON reads it ("1m0s"), for
// the default the plugin declares to the host.
func (d duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

func (d *duration) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch v := v.(type) {
	case float64:
		*d = duration(v * float64(time.Second))
	case string:
		p, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("duration %q: write it like \"60s\" or \"5m\"", v)
		}
		*d = duration(p)
	default:
		return fmt.Errorf("duration %s: write it like \"60s\" or \"5m\"", b)
	}
	return nil
}

// memLimit is an amount of memory: bytes, or a share of the machine's
// memory. Zero is no limit.
type memLimit struct {
	Bytes   int64
	Percent float64
}

// of returns the limit in bytes on a machine with total bytes of memory
// (0 = unknown); 0 is no limit.
func (m memLimit) of(total int64) int64 {
	if m.Percent > 0 {
		return int64(float64(total) * m.Percent / 100)
	}
	return m.Bytes
}

func (m memLimit) String() string {
	if m.Percent > 0 {
		return strconv.FormatFloat(m.Percent, 'f', -1, 64) + "%"
	}
	return bytesize.Format(m.Bytes)
}

// MarshalJSON writes the limit as UnmarshalJSON reads it, "50%" or a number
// of bytes in quotes, for the default the plugin declares to the host.
func (m memLimit) MarshalJSON() ([]byte, error) {
	if m.Percent > 0 {
		return json.Marshal(m.String())
	}
	return json.Marshal(strconv.FormatInt(m.Bytes, 10))
}

// UnmarshalJSON reads "16GiB", "500MB", "50%" (of the machine's memory),
// "0" (no limit) or a number of bytes.
func (m *memLimit) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	bad := fmt.Errorf("memory size %s: write it like \"16GiB\", \"500MB\", \"50%%\" (of the machine's memory) or \"0\" (no limit)", b)
	switch v := v.(type) {
	case float64:
		if v < 0 {
			return bad
		}
		*m = memLimit{Bytes: int64(v)}
		return nil
	case string:
		s := strings.TrimSpace(v)
		if p, ok := strings.CutSuffix(s, "%"); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
			if err != nil || f < 0 || f > 100 {
				return bad
			}
			*m = memLimit{Percent: f}
			return nil
		}
		n, err := bytesize.Parse(s)
		if err != nil {
			return bad
		}
		*m = memLimit{Bytes: n}
		return nil
	}
	return bad
}
