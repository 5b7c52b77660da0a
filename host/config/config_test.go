package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/sdk/process"

	"github.com/pelletier/go-toml/v2"
)

// baseEnv gives the default state directory something to work from on every OS
// and uid, without the real environment.
var baseEnv = []string{"HOME=/home/tester", "LOCALAPPDATA=/home/tester/AppData/Local"}

func fixture(name string) string { return filepath.Join("testdata", name) }

func fixtures(names ...string) []FileSource {
	files := make([]FileSource, len(names))
	for i, n := range names {
		files[i] = FileSource{Path: fixture(n)}
	}
	return files
}

// computedDefaults is Defaults() with what Load computes for baseEnv.
func computedDefaults(t *testing.T) Config {
	t.Helper()
	want := Defaults()
	want.StateDir = defaultStateDir(runtime.GOOS, isRoot(), envLookup(baseEnv))
	return want
}

func TestLoadGoodFiles(t *testing.T) {
	full := Config{
		StateDir:          "/srv/cajon/state",
		LogLevel:          "debug",
		LogFormat:         "json",
		PluginDirs:        []string{"/opt/cajon/plugins", "/srv/plugins"},
		PluginIdleTimeout: 90 * time.Second,
		MaxLogBytes:       1 << 20,
		KillGrace:         3 * time.Second,
		TaskTypes:         []string{"blender", "ffmpeg"},
		OOMScoreAdjust:    500,
		StallTimeout:      30 * time.Minute,
		MaxTaskMemory:     12 << 30,
		Manager: ManagerConfig{
			URL:                  "http://flamenco:8080",
			WorkerName:           "render-07",
			RestartExitCode:      47,
			MayIRunInterval:      2 * time.Second,
			AsleepPollInterval:   7 * time.Second,
			FetchBackoffMax:      time.Minute,
			EventMayIRunInterval: 15 * time.Second,
			EventFetchBackoffMax: 90 * time.Second,
			RequestTimeout:       45 * time.Second,
			FinishTaskOnShutdown: true,
			UpdateQueueHighWater: 50,
			MaxUpdateLogBytes:    64 << 10,
		},
		Local:    LocalConfig{Slots: 4, KeepFinished: 168 * time.Hour},
		LogStore: LogStoreConfig{MaxTotalBytes: 2048, MaxAge: 48 * time.Hour},
		Metrics:  MetricsConfig{Listen: "127.0.0.1:9464", ManagerAnswerMaxAge: 2 * time.Minute, WebConfigFile: "/etc/cajon/web.yml"},
		Files:    FilesConfig{AllowedRoots: []string{"/srv/flamenco", "/tmp"}},
		Worker: WorkerConfig{Identities: []IdentityConfig{
			{Env: map[string]string{"CUDA_VISIBLE_DEVICES": "0"}, TaskTypes: []string{}, GPU: []string{}},
			{Name: "render-07-gpu1", Env: map[string]string{"OCIO": "/srv/ocio/config.ocio"},
				TaskTypes: []string{"blender"}, GPU: []string{"1"}, CyclesDevice: "OPTIX", MaxTaskMemory: 24 << 30},
		}},
		Workstation: WorkstationConfig{X11Displays: []string{":0", ":1"}, Logind: true, SessionDir: "/var/lib/cajon/sessions", IdleBeforeWork: 15 * time.Minute,
			OnActivity: OnActivityRequeue, PollInterval: 3 * time.Second},
		Plugins: map[string]map[string]any{
			"blender": {"binary": "/opt/blender/blender", "threads": int64(8)},
			"ffmpeg":  {"args": []any{"-hide_banner"}},
		},
	}
	tests := []struct {
		file string
		want Config
	}{
		{"full.toml", full},
		{"empty.toml", computedDefaults(t)},
		{"comments_only.toml", computedDefaults(t)},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			cfg, prov, err := Load(Sources{Files: fixtures(tt.file), Environ: baseEnv})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if !reflect.DeepEqual(*cfg, tt.want) {
				t.Errorf("config:\n got %+v\nwant %+v", *cfg, tt.want)
			}
			if got := prov.Files(); !slices.Equal(got, []string{fixture(tt.file)}) {
				t.Errorf("Files() = %q", got)
			}
		})
	}
}

// TestFullFixtureSetsEveryKey keeps the file shape (fileConfig), the settings table
// and the full.toml fixture in step: every key is read from the file.
func TestFullFixtureSetsEveryKey(t *testing.T) {
	_, prov, err := Load(Sources{Files: fixtures("full.toml"), Environ: baseEnv})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range Keys() {
		if got, want := prov.Of(key), originFile(fixture("full.toml")); got != want {
			t.Errorf("Of(%q) = %q, want %q: fileConfig or full.toml misses the key", key, got, want)
		}
	}
	data, err := os.ReadFile(fixture("full.toml"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := decodeFile("full.toml", data)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sortedKeys(l.values), sortedKeys(keySet()); !slices.Equal(got, want) {
		t.Errorf("file keys %q\nsettings   %q", got, want)
	}
}

func keySet() map[string]bool {
	m := map[string]bool{}
	for _, k := range Keys() {
		m[k] = true
	}
	return m
}

func TestLoadFileErrors(t *testing.T) {
	tests := []struct {
		file string
		want []string // all must be in the message
	}{
		{"unknown_key.toml", []string{"unknown_key.toml", "line 3", `unknown key "manager.ur"`, `did you mean "manager.url"`}},
		{"unknown_table.toml", []string{"unknown_table.toml", "line 3", `unknown key "manger"`, `did you mean "manager"`}},
		{"unknown_top.toml", []string{"unknown_top.toml", "line 2", `unknown key "slots"`, `did you mean "local.slots"`}},
		{"wrong_type_int.toml", []string{"wrong_type_int.toml", "line 3", "local.slots must be an integer, not a string"}},
		{"wrong_type_string.toml", []string{"wrong_type_string.toml", "line 1", "log_level must be a string, not an integer"}},
		{"wrong_type_list.toml", []string{"line 1", "plugin_dirs must be a list of strings, not a string"}},
		{"wrong_type_bool.toml", []string{"line 2", "manager.finish_task_on_shutdown must be a boolean", "not a string"}},
		{"wrong_type_duration.toml", []string{"wrong_type_duration.toml", "line 2", "kill_grace must be a duration string", "not an integer"}},
		{"wrong_type_table.toml", []string{"line 1", "manager must be a table ([manager]), not a string"}},
		{"wrong_type_plugin.toml", []string{"line 2", "plugins.blender must be a table ([plugins.blender]), not a string"}},
		{"bad_duration.toml", []string{"bad_duration.toml", "line 3", "manager.may_i_run_interval", `invalid duration "1 second"`}},
		{"syntax.toml", []string{"syntax.toml", "line 1, column"}},
		{"overflow.toml", []string{"overflow.toml", "line 1", "max_log_bytes"}},
		{"plugin_nan.toml", []string{
			"plugins.blender.ratio = nan (file testdata/plugin_nan.toml): NaN and infinity cannot be passed to a plugin",
			"plugins.ffmpeg.nested = {list = [1.0, -inf]}",
		}},
		{"invalid_values.toml", []string{
			`log_level = 'loud' (file testdata/invalid_values.toml): must be one of trace, debug, info, warn, error`,
			`kill_grace = '-1s' (file testdata/invalid_values.toml): must not be negative`,
			`local.slots = 0 (file testdata/invalid_values.toml): must be 1 or more`,
			`local.keep_finished = '-24h' (file testdata/invalid_values.toml): must not be negative`,
			`workstation.x11_displays = ['0'] (file testdata/invalid_values.toml): "0" is not an X display name`,
			`workstation.on_activity = 'pause' (file testdata/invalid_values.toml): must be "finish"`,
			`workstation.poll_interval = '20m' (file testdata/invalid_values.toml): must not be longer than workstation.idle_before_work`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			cfg, _, err := Load(Sources{Files: fixtures(tt.file), Environ: baseEnv})
			if err == nil {
				t.Fatalf("Load succeeded: %+v", cfg)
			}
			for _, want := range tt.want {
				if !strings.Contains(filepath.ToSlash(err.Error()), want) {
					t.Errorf("error %q\ndoes not contain %q", err, want)
				}
			}
		})
	}
}

func TestFileErrorsUnwrapToGoToml(t *testing.T) {
	_, _, err := Load(Sources{Files: fixtures("wrong_type_int.toml"), Environ: baseEnv})
	var de *toml.DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("error %v does not wrap a *toml.DecodeError", err)
	}
	if line, _ := de.Position(); line != 3 {
		t.Errorf("line %d, want 3", line)
	}
}

func TestMissingFiles(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.toml")
	cfg, prov, err := Load(Sources{Files: []FileSource{{Path: missing}}, Environ: baseEnv})
	if err != nil {
		t.Fatalf("optional missing file: %v", err)
	}
	if !reflect.DeepEqual(*cfg, computedDefaults(t)) || len(prov.Files()) != 0 {
		t.Errorf("optional missing file changed the config: %+v, files %q", cfg, prov.Files())
	}

	_, _, err = Load(Sources{Files: []FileSource{{Path: missing, Required: true}}, Environ: baseEnv})
	if err == nil || !strings.Contains(err.Error(), missing) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("required missing file: error %v, want one naming %s and wrapping ErrNotExist", err, missing)
	}

	dir := t.TempDir()
	_, _, err = Load(Sources{Files: []FileSource{{Path: dir}}, Environ: baseEnv})
	if err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("directory as config file: error %v, want one naming %s", err, dir)
	}
}

func TestLayering(t *testing.T) {
	src := Sources{
		Files: []FileSource{
			{Path: fixture("system.toml")},
			{Path: fixture("user.toml")},
			{Path: filepath.Join(t.TempDir(), "cajon.toml")}, // ./cajon.toml absent
			{Path: fixture("cwd.toml")},
			{Path: fixture("explicit.toml"), Required: true},
		},
		Environ: append(slices.Clone(baseEnv),
			"CAJON_MANAGER_URL=http://from-env:8080",
			"CAJON_LOCAL_SLOTS=7",
			"CAJON_MAX_LOG_BYTES=200",
			"CAJON_MAX_LOG_BYTES=300", // later wins
		),
		Flags: map[string]string{"local.slots": "8"},
	}
	cfg, prov, err := Load(src)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key    string
		value  any
		origin string
	}{
		{"log_format", "json", originFile(fixture("system.toml"))},
		{"log_level", "error", originFile(fixture("user.toml"))},
		{"kill_grace", 3 * time.Second, originFile(fixture("cwd.toml"))},
		{"manager.url", "http://from-env:8080", "env CAJON_MANAGER_URL"},
		{"max_log_bytes", int64(300), "env CAJON_MAX_LOG_BYTES"},
		{"local.slots", 8, "flag"},
		{"log_store.max_age", 720 * time.Hour, "default"},
		{"local.keep_finished", 720 * time.Hour, "default"},
		{"manager.worker_name", "", "default"},
	}
	for _, tt := range tests {
		s, _ := lookupSetting(tt.key)
		if got := reflectValue(s.field(cfg)); !reflect.DeepEqual(got, tt.value) {
			t.Errorf("%s = %v, want %v", tt.key, got, tt.value)
		}
		if got := prov.Of(tt.key); got != tt.origin {
			t.Errorf("Of(%q) = %q, want %q", tt.key, got, tt.origin)
		}
	}
	wantFiles := []string{fixture("system.toml"), fixture("user.toml"), fixture("cwd.toml"), fixture("explicit.toml")}
	if got := prov.Files(); !slices.Equal(got, wantFiles) {
		t.Errorf("Files() = %q, want %q", got, wantFiles)
	}
	if got := prov.Of("no.such.key"); got != "" {
		t.Errorf("Of(unknown) = %q, want empty", got)
	}
}

func TestEnvironment(t *testing.T) {
	env := append(slices.Clone(baseEnv),
		"CAJON_STATE_DIR=/tmp/state",
		"CAJON_PLUGIN_DIRS=/a, /b,,",
		"CAJON_TASK_TYPES=",
		"CAJON_MANAGER_FINISH_TASK_ON_SHUTDOWN=true",
		"CAJON_MANAGER_RESTART_EXIT_CODE=42",
		"CAJON_LOG_STORE_MAX_AGE=1h30m",
		"CAJON_LOG_STORE_MAX_TOTAL_BYTES=0",
		"CAJON_LOCAL_KEEP_FINISHED=0s",
		"CAJON_MANAGER_URL=https://mgr.example:8443/",
		"CAJON_RUN_ID=abc", "CAJON_LIFELINE_FD=3", "CAJON_LIFELINE_HANDLE=412", "CAJON_PLUGIN=cajon-plugin-v1", "CAJON_HOST_DIR=/opt/cajon", // internal: silent
		"CAJON_MANAGER_ULR=http://typo", // unknown: warned
		"CAJON_NONSENSE=1",
		"OTHER_VAR=1",
		"not an assignment",
	)
	cfg, prov, err := Load(Sources{Environ: env})
	if err != nil {
		t.Fatal(err)
	}
	want := computedDefaults(t)
	want.StateDir = "/tmp/state"
	want.PluginDirs = []string{"/a", "/b"}
	want.Manager.FinishTaskOnShutdown = true
	want.Manager.RestartExitCode = 42
	want.Manager.URL = "https://mgr.example:8443/"
	want.LogStore.MaxAge = 90 * time.Minute
	want.LogStore.MaxTotalBytes = 0
	want.Local.KeepFinished = 0
	if !reflect.DeepEqual(*cfg, want) {
		t.Errorf("config:\n got %+v\nwant %+v", *cfg, want)
	}
	if got := prov.Of("task_types"); got != "env CAJON_TASK_TYPES" {
		t.Errorf("Of(task_types) = %q", got)
	}
	warnings := prov.Warnings()
	if len(warnings) != 2 ||
		!strings.Contains(warnings[0], "CAJON_MANAGER_ULR") || !strings.Contains(warnings[0], `did you mean "CAJON_MANAGER_URL"`) ||
		!strings.Contains(warnings[1], "CAJON_NONSENSE") {
		t.Errorf("warnings = %q", warnings)
	}
}

func TestEnvAndFlagErrors(t *testing.T) {
	tests := []struct {
		name  string
		env   []string
		flags map[string]string
		want  []string
	}{
		{"env int", []string{"CAJON_LOCAL_SLOTS=two"}, nil,
			[]string{`environment CAJON_LOCAL_SLOTS="two": local.slots must be an integer`}},
		{"env bool", []string{"CAJON_MANAGER_FINISH_TASK_ON_SHUTDOWN=sure"}, nil,
			[]string{"CAJON_MANAGER_FINISH_TASK_ON_SHUTDOWN", "must be true or false"}},
		{"env duration", []string{"CAJON_KILL_GRACE=10"}, nil,
			[]string{`CAJON_KILL_GRACE="10"`, "kill_grace must be a duration string"}},
		{"env int64", []string{"CAJON_MAX_LOG_BYTES=8MiB"}, nil,
			[]string{"CAJON_MAX_LOG_BYTES", "max_log_bytes must be an integer"}},
		{"flag unknown", nil, map[string]string{"manager.ulr": "x"},
			[]string{`flag: unknown config key "manager.ulr"`, `did you mean "manager.url"`}},
		{"flag plugin keys are file-only", nil, map[string]string{"plugins.blender.binary": "x"},
			[]string{`unknown config key "plugins.blender.binary"`}},
		{"flag duration", nil, map[string]string{"manager.request_timeout": "soon"},
			[]string{`flag manager.request_timeout="soon"`, "must be a duration string"}},
		{"all reported", []string{"CAJON_LOCAL_SLOTS=x"}, map[string]string{"kill_grace": "y"},
			[]string{"CAJON_LOCAL_SLOTS", "flag kill_grace"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Load(Sources{Environ: append(slices.Clone(baseEnv), tt.env...), Flags: tt.flags})
			if err == nil {
				t.Fatal("Load succeeded")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q\ndoes not contain %q", err, want)
				}
			}
		})
	}
}

func TestValidation(t *testing.T) {
	tests := []struct {
		flags map[string]string
		want  string // "" = valid
	}{
		{map[string]string{"log_level": "WARN"}, ""},
		{map[string]string{"log_level": "verbose"}, `log_level = 'verbose' (flag): must be one of`},
		{map[string]string{"log_format": "xml"}, "must be text or json"},
		{map[string]string{"manager.url": "http://mgr:8080"}, ""},
		{map[string]string{"manager.url": "ftp://mgr"}, "must start with http:// or https://"},
		{map[string]string{"manager.url": "mgr:8080"}, "must start with http:// or https://"},
		{map[string]string{"manager.url": "http://"}, "has no host"},
		{map[string]string{"manager.url": "http://mgr:port"}, "not a URL"},
		{map[string]string{"manager.restart_exit_code": "3"}, ""},
		{map[string]string{"manager.restart_exit_code": "255"}, ""},
		{map[string]string{"manager.restart_exit_code": "1"}, "supervisor could not tell a restart from a failure"},
		{map[string]string{"manager.restart_exit_code": "2"}, "supervisor could not tell"},
		{map[string]string{"manager.restart_exit_code": "256"}, "from 3 to 255"},
		{map[string]string{"manager.restart_exit_code": "-1"}, "from 3 to 255"},
		{map[string]string{"manager.may_i_run_interval": "0s"}, "manager.may_i_run_interval = '0s' (flag): must be more than 0"},
		{map[string]string{"manager.update_queue_high_water": "0"}, "must be 1 or more"},
		{map[string]string{"manager.max_update_log_bytes": "100"}, "must be 4096 or more"},
		{map[string]string{"local.slots": "0"}, "local.slots = 0 (flag): must be 1 or more"},
		{map[string]string{"max_log_bytes": "0"}, ""},
		{map[string]string{"max_log_bytes": "-1"}, "must be 0 or more"},
		{map[string]string{"plugin_idle_timeout": "0s", "kill_grace": "0s"}, ""},
		{map[string]string{"log_store.max_age": "-1h"}, "must not be negative"},
		{map[string]string{"local.keep_finished": "0s"}, ""},
		{map[string]string{"local.keep_finished": "-1s"}, "local.keep_finished = '-1s' (flag): must not be negative"},
		{map[string]string{"local.keep_finished": "30d"}, "local.keep_finished"},
		{map[string]string{"metrics.listen": "127.0.0.1:9464"}, ""},
		{map[string]string{"metrics.listen": ":9464"}, ""},
		{map[string]string{"metrics.listen": "9464"}, `metrics.listen = '9464' (flag): must be host:port`},
		{map[string]string{"metrics.listen": "127.0.0.1:"}, "must be host:port"},
		{map[string]string{"metrics.manager_answer_max_age": "0s"}, "must be more than 0"},
		// Checked against the fetch backoff only when it matters: metrics on, a Manager set.
		{map[string]string{"manager.fetch_backoff_max": "2m"}, ""},
		{map[string]string{"manager.fetch_backoff_max": "2m", "metrics.listen": ":9464", "manager.url": "http://mgr:8080"},
			"metrics.manager_answer_max_age = '1m' (default): must be longer than the longest quiet time between Manager requests (2m12s"},
		{map[string]string{"manager.fetch_backoff_max": "2m", "metrics.listen": ":9464", "manager.url": "http://mgr:8080",
			"metrics.manager_answer_max_age": "3m"}, ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(sortedKeys(tt.flags), "+")+"="+strings.Join(mapValues(tt.flags), "+"), func(t *testing.T) {
			_, _, err := Load(Sources{Environ: baseEnv, Flags: tt.flags})
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.want != "" && err == nil:
				t.Errorf("no error, want one containing %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Errorf("error %q\ndoes not contain %q", err, tt.want)
			}
		})
	}
}

func mapValues(m map[string]string) []string {
	var values []string
	for _, k := range sortedKeys(m) {
		values = append(values, m[k])
	}
	return values
}

func TestLogLevelNormalized(t *testing.T) {
	cfg, _, err := Load(Sources{Environ: baseEnv, Flags: map[string]string{"log_level": "DEBUG"}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.LogLevel != "debug" {
		t.Errorf("log_level = %q, want debug", cfg.LogLevel)
	}
}

func TestPluginTables(t *testing.T) {
	cfg, prov, err := Load(Sources{Files: fixtures("plugins_a.toml", "plugins_b.toml"), Environ: baseEnv})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]any{
		"blender": {
			"binary":  "/usr/bin/blender",
			"threads": int64(16),
			"env":     map[string]any{"CYCLES_DEVICE": "CPU"},
			"when":    time.Date(1979, 5, 27, 7, 32, 0, 0, time.UTC),
			"ratio":   0.5,
		},
		"ffmpeg":    {},
		"my plugin": {"odd key": []any{int64(1), "two", map[string]any{"three": int64(3)}}},
	}
	if !reflect.DeepEqual(cfg.Plugins, want) {
		t.Errorf("plugins:\n got %#v\nwant %#v", cfg.Plugins, want)
	}
	for key, origin := range map[string]string{
		"plugins.blender.binary":      originFile(fixture("plugins_a.toml")),
		"plugins.blender.threads":     originFile(fixture("plugins_b.toml")),
		"plugins.blender.env":         originFile(fixture("plugins_a.toml")),
		"plugins.my plugin.odd key":   originFile(fixture("plugins_b.toml")),
		"plugins.blender.nonexistent": "",
	} {
		if got := prov.Of(key); got != origin {
			t.Errorf("Of(%q) = %q, want %q", key, got, origin)
		}
	}
}

func TestPrintRoundTrip(t *testing.T) {
	cfg, prov, err := Load(Sources{
		Files:   fixtures("full.toml", "plugins_b.toml"),
		Environ: append(slices.Clone(baseEnv), "CAJON_LOG_LEVEL=warn", "CAJON_TYPO=1"),
		Flags:   map[string]string{"local.slots": "9"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := Print(&out, cfg, prov); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		"# Files read: testdata/full.toml, testdata/plugins_b.toml",
		"# Warning: environment variable CAJON_TYPO",
		`log_level = 'warn'`,
		"# env CAJON_LOG_LEVEL",
		"slots = 9",
		`kill_grace = '3s'`,
		`fetch_backoff_max = '1m'`,
		`[plugins.'my plugin']`,
	} {
		if !strings.Contains(filepath.ToSlash(text), want) {
			t.Errorf("output does not contain %q:\n%s", want, text)
		}
	}
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "slots = ") && !strings.HasSuffix(line, "# flag") {
			t.Errorf("slots line without its origin: %q", line)
		}
	}

	path := filepath.Join(t.TempDir(), "printed.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	again, _, err := Load(Sources{Files: []FileSource{{Path: path}}, Environ: baseEnv})
	if err != nil {
		t.Fatalf("printed config does not load: %v\n%s", err, text)
	}
	if !reflect.DeepEqual(again, cfg) {
		t.Errorf("round trip changed the config:\n got %+v\nwant %+v", again, cfg)
	}

	var bare strings.Builder
	if err := Print(&bare, cfg, nil); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(bare.String(), "#") {
		t.Errorf("Print without provenance wrote comments:\n%s", bare.String())
	}
}

func TestDefaultStateDir(t *testing.T) {
	tests := []struct {
		name string
		goos string
		root bool
		env  []string
		want string
	}{
		{"root", "linux", true, []string{"HOME=/root", "XDG_STATE_HOME=/x"}, "/var/lib/cajon"},
		{"xdg", "linux", false, []string{"HOME=/home/u", "XDG_STATE_HOME=/home/u/st"}, "/home/u/st/cajon"},
		{"relative xdg ignored", "linux", false, []string{"HOME=/home/u", "XDG_STATE_HOME=st"}, "/home/u/.local/state/cajon"},
		{"home", "darwin", false, []string{"HOME=/Users/u"}, "/Users/u/.local/state/cajon"},
		{"nothing", "linux", false, nil, ""},
		{"windows", "windows", false, []string{`LOCALAPPDATA=C:\Users\u\AppData\Local`}, filepath.Join(`C:\Users\u\AppData\Local`, "cajon")},
		{"windows profile", "windows", false, []string{`USERPROFILE=C:\Users\u`}, filepath.Join(`C:\Users\u`, "AppData", "Local", "cajon")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := defaultStateDir(tt.goos, tt.root, envLookup(tt.env)); got != filepath.FromSlash(tt.want) && got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if DefaultStateDir() == "" && os.Getenv("HOME") != "" {
		t.Error("DefaultStateDir() is empty with HOME set")
	}
}

func TestNoStateDirDefault(t *testing.T) {
	// With no environment, only root on Unix has a default state directory.
	_, _, err := Load(Sources{})
	if defaultStateDir(runtime.GOOS, isRoot(), envLookup(nil)) != "" {
		if err != nil {
			t.Fatalf("Load with a default state dir: %v", err)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), "set state_dir") {
		t.Errorf("error %v, want one asking to set state_dir", err)
	}
}

func TestDefaultSources(t *testing.T) {
	flags := map[string]string{"local.slots": "2"}
	env := []string{"CAJON_LOCAL_SLOTS=3"}

	src := DefaultSources("", env, flags)
	cwdFile, _ := filepath.Abs("cajon.toml")
	last := src.Files[len(src.Files)-1]
	if last.Path != cwdFile || last.Required {
		t.Errorf("last file without --config = %+v, want optional %s", last, cwdFile)
	}
	if runtime.GOOS != "windows" && src.Files[0].Path != "/etc/cajon/cajon.toml" {
		t.Errorf("first file = %q, want /etc/cajon/cajon.toml", src.Files[0].Path)
	}
	if !slices.Equal(src.Environ, env) || !reflect.DeepEqual(src.Flags, flags) {
		t.Errorf("environ/flags not passed through: %+v", src)
	}

	src = DefaultSources("other.toml", nil, nil)
	other, _ := filepath.Abs("other.toml")
	last = src.Files[len(src.Files)-1]
	if last.Path != other || !last.Required {
		t.Errorf("--config file = %+v, want required %s", last, other)
	}

	src = DefaultSources("./cajon.toml", nil, nil)
	count := 0
	for _, f := range src.Files {
		if f.Path == cwdFile {
			count++
			if !f.Required {
				t.Errorf("--config ./cajon.toml is not required: %+v", f)
			}
		}
	}
	if count != 1 {
		t.Errorf("./cajon.toml listed %d times: %+v", count, src.Files)
	}
}

func TestSystemConfigFile(t *testing.T) {
	if got := systemConfigFile("linux", envLookup(nil)); got != "/etc/cajon/cajon.toml" {
		t.Errorf("linux: %q", got)
	}
	got := systemConfigFile("windows", envLookup([]string{`ProgramData=C:\ProgramData`}))
	if want := filepath.Join(`C:\ProgramData`, "cajon", "cajon.toml"); got != want {
		t.Errorf("windows: %q, want %q", got, want)
	}
	if got := systemConfigFile("windows", envLookup(nil)); got != "" {
		t.Errorf("windows without ProgramData: %q", got)
	}
}

func TestEnvVarNames(t *testing.T) {
	seen := map[string]string{}
	for _, key := range Keys() {
		name := EnvVar(key)
		if other, dup := seen[name]; dup {
			t.Errorf("%s and %s share %s", key, other, name)
		}
		seen[name] = key
	}
	for key, want := range map[string]string{
		"state_dir":                 "CAJON_STATE_DIR",
		"manager.restart_exit_code": "CAJON_MANAGER_RESTART_EXIT_CODE",
		"log_store.max_total_bytes": "CAJON_LOG_STORE_MAX_TOTAL_BYTES",
	} {
		if got := EnvVar(key); got != want {
			t.Errorf("EnvVar(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestDurationString(t *testing.T) {
	for d, want := range map[time.Duration]string{
		5 * time.Minute:                     "5m",
		720 * time.Hour:                     "720h",
		90 * time.Minute:                    "1h30m",
		time.Hour + time.Second:             "1h0m1s",
		1500 * time.Millisecond:             "1.5s",
		0:                                   "0s",
		10 * time.Second:                    "10s",
		-2 * time.Hour:                      "-2h",
		time.Hour + 30*time.Millisecond:     "1h0m0.03s",
		3*time.Minute + 30*time.Microsecond: "3m0.00003s",
	} {
		if got := durationString(d); got != want {
			t.Errorf("durationString(%v) = %q, want %q", d, got, want)
		}
		if back, err := time.ParseDuration(durationString(d)); err != nil || back != d {
			t.Errorf("%q parses back to %v, %v", durationString(d), back, err)
		}
	}
}

func TestValidateEmptyStateDir(t *testing.T) {
	cfg := computedDefaults(t)
	cfg.StateDir = ""
	err := validate(&cfg, newProvenance())
	if err == nil || !strings.Contains(err.Error(), "state_dir = '' (default): no default state directory") {
		t.Errorf("error %v, want one about the missing state_dir", err)
	}
}

func TestNameAtStart(t *testing.T) {
	hostIs := func(name string, err error) func() (string, error) {
		return func() (string, error) { return name, err }
	}
	tests := []struct {
		name     string
		set      string
		hostname func() (string, error)
		want     string
		err      string
	}{
		{"set wins", "render-07", hostIs("clone", nil), "render-07", ""},
		{"unset takes the host name", "", hostIs("clone-42", nil), "clone-42", ""},
		{"unknown host name", "", hostIs("", errors.New("uname failed")), "", "set worker_name"},
		{"empty host name", "", hostIs("", nil), "", "host name is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := nameAtStart(tt.set, tt.hostname)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("nameAtStart = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// A config printed by `cajon config` on one machine and copied to /etc of a
// cloned image must leave worker_name unset, so every clone takes its own
// host name when it starts.
func TestPrintLeavesWorkerNameUnset(t *testing.T) {
	host, err := os.Hostname()
	if err != nil || host == "" {
		t.Skipf("no host name here (%v)", err)
	}
	cfg, prov, err := Load(Sources{Environ: append(slices.Clone(baseEnv), "CAJON_MANAGER_URL=http://mgr:8080")})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Manager.WorkerName != "" {
		t.Fatalf("Load froze worker_name = %q; it must stay unset until the worker starts", cfg.Manager.WorkerName)
	}
	var out strings.Builder
	if err := Print(&out, cfg, prov); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	if strings.Contains(text, "worker_name = '"+host+"'") {
		t.Errorf("cajon config printed the host name as worker_name:\n%s", text)
	}
	if !strings.Contains(text, "#worker_name = ''") || !strings.Contains(text, "host name at start") {
		t.Errorf("cajon config does not say worker_name defaults to the host name at start:\n%s", text)
	}

	copied := filepath.Join(t.TempDir(), "cajon.toml")
	if err := os.WriteFile(copied, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	clone, _, err := Load(Sources{Files: []FileSource{{Path: copied, Required: true}}, Environ: baseEnv})
	if err != nil {
		t.Fatalf("printed config does not load: %v\n%s", err, text)
	}
	got, err := nameAtStart(clone.Manager.WorkerName, func() (string, error) { return "clone-42", nil })
	if err != nil || got != "clone-42" {
		t.Errorf("a clone with the copied config starts as %q (%v), want its own host name clone-42", got, err)
	}

	// A name that is set is printed as it is.
	named, prov, err := Load(Sources{Environ: append(slices.Clone(baseEnv), "CAJON_MANAGER_WORKER_NAME=render-07")})
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := Print(&out, named, prov); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "worker_name = 'render-07'") {
		t.Errorf("a set worker_name is not printed:\n%s", out.String())
	}
}

func TestIdentities(t *testing.T) {
	write := func(t *testing.T, content string) FileSource {
		path := filepath.Join(t.TempDir(), "cajon.toml")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return FileSource{Path: path}
	}
	tests := []struct {
		name  string
		files []string
		want  []IdentityConfig // when err is ""
		err   string
	}{
		{"none", []string{""}, []IdentityConfig{}, ""},
		{"two with defaults", []string{"[[worker.identities]]\n[[worker.identities]]\n"},
			[]IdentityConfig{normalIdentity(IdentityConfig{}), normalIdentity(IdentityConfig{})}, ""},
		{"a later file replaces the list", []string{
			"[[worker.identities]]\nname = \"a\"\n[[worker.identities]]\nname = \"b\"\n",
			"[[worker.identities]]\nname = \"c\"\n",
		}, []IdentityConfig{normalIdentity(IdentityConfig{Name: "c"})}, ""},
		{"a later file without identities keeps them", []string{
			"[[worker.identities]]\nname = \"a\"\n", "log_level = \"warn\"\n",
		}, []IdentityConfig{normalIdentity(IdentityConfig{Name: "a"})}, ""},
		{"duplicate names", []string{"[[worker.identities]]\nname = \"a\"\n[[worker.identities]]\nname = \"a\"\n"},
			nil, `worker.identities[2] (file `},
		{"bad variable name", []string{"[[worker.identities]]\nenv = { \"A=B\" = \"1\" }\n"},
			nil, `env has the variable name "A=B"`},
		{"empty task type", []string{"[[worker.identities]]\ntask_types = [\"\"]\n"},
			nil, "task_types has an empty task type"},
		{"own memory cap", []string{"max_task_memory = 1024\n[[worker.identities]]\nmax_task_memory = 2048\n[[worker.identities]]\n"},
			[]IdentityConfig{normalIdentity(IdentityConfig{MaxTaskMemory: 2048}), normalIdentity(IdentityConfig{})}, ""},
		{"negative memory cap", []string{"[[worker.identities]]\nmax_task_memory = -1\n"},
			nil, "max_task_memory = -1 must be 0"},
		{"unknown key", []string{"[[worker.identities]]\nnmae = \"a\"\n"},
			nil, `unknown key "worker.identities.nmae" (did you mean "worker.identities.name"?)`},
		{"env value not a string", []string{"[[worker.identities]]\nenv = { CUDA_VISIBLE_DEVICES = 1 }\n"},
			nil, `line 2: worker.identities.env must be a table of strings, e.g. env = { CUDA_VISIBLE_DEVICES = "1" }, not an integer`},
		{"one GPU by index", []string{"[[worker.identities]]\ngpu = 1\ncycles_device = \"optix\"\n"},
			[]IdentityConfig{normalIdentity(IdentityConfig{GPU: []string{"1"}, CyclesDevice: "OPTIX"})}, ""},
		{"GPUs by index and UUID", []string{"[[worker.identities]]\ngpu = [0, \"GPU-8f6e2c1a-0b1d-4c3e-9a7f-1234567890ab\", \"02\"]\ncycles_device = \"CUDA\"\n"},
			[]IdentityConfig{normalIdentity(IdentityConfig{GPU: []string{"0", "GPU-8f6e2c1a-0b1d-4c3e-9a7f-1234567890ab", "2"}, CyclesDevice: "CUDA"})}, ""},
		{"device alone", []string{"[[worker.identities]]\ncycles_device = \"hip+cpu\"\n"},
			[]IdentityConfig{normalIdentity(IdentityConfig{CyclesDevice: "HIP+CPU"})}, ""},
		{"CPU alone", []string{"[[worker.identities]]\ncycles_device = \"CPU\"\n"},
			[]IdentityConfig{normalIdentity(IdentityConfig{CyclesDevice: "CPU"})}, ""},
		{"ONEAPI by index", []string{"[[worker.identities]]\ngpu = [0, 1]\ncycles_device = \"ONEAPI\"\n"},
			[]IdentityConfig{normalIdentity(IdentityConfig{GPU: []string{"0", "1"}, CyclesDevice: "ONEAPI"})}, ""},
		{"GPU without device", []string{"[[worker.identities]]\ngpu = 0\n"},
			nil, "gpu is set without cycles_device: set cycles_device too"},
		{"GPU with the CPU device", []string{"[[worker.identities]]\ngpu = 0\ncycles_device = \"CPU\"\n"},
			nil, "cycles_device is CPU, which renders on no GPU"},
		{"GPU with METAL", []string{"[[worker.identities]]\ngpu = 0\ncycles_device = \"METAL\"\n"},
			nil, "macOS has no variable that hides the other GPUs"},
		{"ONEAPI by UUID", []string{"[[worker.identities]]\ngpu = \"GPU-1\"\ncycles_device = \"ONEAPI\"\n"},
			nil, `gpu "GPU-1": with cycles_device ONEAPI a GPU must be an index`},
		{"unknown device", []string{"[[worker.identities]]\ncycles_device = \"RTX\"\n"},
			nil, `cycles_device: Cycles device "RTX" is not one Blender knows: use one of CPU, CUDA, OPTIX, HIP, ONEAPI, METAL`},
		{"negative index", []string{"[[worker.identities]]\ngpu = -1\ncycles_device = \"CUDA\"\n"},
			nil, "worker.identities[1]: gpu: GPU index -1 is negative"},
		{"GPU with a comma", []string{"[[worker.identities]]\ngpu = \"0,1\"\ncycles_device = \"CUDA\"\n"},
			nil, `GPU "0,1" is neither an index nor a device UUID`},
		{"GPU listed twice", []string{"[[worker.identities]]\ngpu = [1, \"1\"]\ncycles_device = \"CUDA\"\n"},
			nil, "GPU 1 is listed twice"},
		{"empty GPU list", []string{"[[worker.identities]]\ngpu = []\ncycles_device = \"CUDA\"\n"},
			nil, "an empty list; leave gpu out"},
		{"GPU a float", []string{"[[worker.identities]]\ngpu = 1.0\ncycles_device = \"CUDA\"\n"},
			nil, "not a float"},
		{"a device in env Blender does not know", []string{"[[worker.identities]]\nenv = { CAJON_CYCLES_DEVICE = \"GPU\" }\n"},
			nil, `env CAJON_CYCLES_DEVICE: Cycles device "GPU" is not one Blender knows`},
		{"device not a string", []string{"[[worker.identities]]\ncycles_device = 1\n"},
			nil, `worker.identities.cycles_device must be a string, e.g. cycles_device = "OPTIX", not an integer`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var files []FileSource
			for _, f := range tt.files {
				files = append(files, write(t, f))
			}
			cfg, prov, err := Load(Sources{Files: files, Environ: baseEnv})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(cfg.Worker.Identities, tt.want) {
				t.Errorf("identities %+v, want %+v", cfg.Worker.Identities, tt.want)
			}
			if len(tt.want) > 0 && !strings.HasPrefix(prov.Of(identitiesKey), "file ") {
				t.Errorf("origin of the identities: %q", prov.Of(identitiesKey))
			}
		})
	}
}

// A kill_grace of "0s" is no grace, never the plugins' 10 s default that a
// grace of 0 means on the way to them.
func TestKillGraceZeroMeansNoGrace(t *testing.T) {
	tests := []struct {
		value string
		want  time.Duration
	}{
		{"0s", process.NoGrace},
		{"1ms", time.Millisecond},
		{"2s", 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			cfg, _, err := Load(Sources{Environ: baseEnv, Flags: map[string]string{"kill_grace": tt.value}})
			if err != nil {
				t.Fatal(err)
			}
			if cfg.KillGrace != tt.want {
				t.Errorf("kill_grace %s: KillGrace = %v, want %v", tt.value, cfg.KillGrace, tt.want)
			}
		})
	}
}
