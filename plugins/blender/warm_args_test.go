package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWarmFor(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "blender")
	blend := filepath.Join(dir, "scene.blend")
	for _, f := range []string{exe, blend} {
		if err := os.WriteFile(f, []byte("x"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bg := []string{"-b", "-y"}
	sbr := []string{"--scene", "Scene", "--render-output", "/r/######", "--render-format", "PNG", "--render-frame", "1,2"}
	tests := []struct {
		name       string
		exeArgs    []string
		argsBefore []string
		blend      string
		args       []string
		why        string // "" = warm
	}{
		{"simple blender render", bg, nil, blend, sbr, ""},
		{"ranges, lists, relative frames", bg, nil, blend, []string{"-f", "1..3,7,+1,-2"}, ""},
		{"start end jump anim", bg, nil, blend, []string{"-s", "3", "-e", "+4", "-j", "2", "-a"}, ""},
		{"other options", []string{"--background", "--factory-startup", "-t", "4", "-noaudio"}, []string{"--addons", "x"}, blend,
			[]string{"-E", "CYCLES", "-x", "1", "-o", "//out/", "-f", "1"}, ""},
		{"no blend file", bg, nil, "", sbr, "no blend file"},
		{"not in the background", []string{"-y"}, nil, blend, sbr, "no -b"},
		{"a script before the file", bg, []string{"--python", "setup.py"}, blend, sbr, `"--python" before the blend file`},
		{"a render before the file", bg, []string{"-f", "1"}, blend, sbr, `"-f" before the blend file`},
		{"python expression", bg, nil, blend, []string{"--python-expr", "x", "-f", "1"}, ""},
		{"python script", bg, nil, blend, []string{"-P", "x.py", "--python", "y.py", "-f", "1"}, ""},
		{"a script that renders by itself", bg, nil, blend, []string{"-o", "/r/t", "-F", "OPEN_EXR", "--python-expr", "render()"}, ""},
		{"exit code", bg, nil, blend, []string{"--python-exit-code", "3", "--python-expr", "x"}, ""},
		{"exit code out of range", bg, nil, blend, []string{"--python-exit-code", "256", "--python-expr", "x"}, `--python-exit-code "256"`},
		{"exit code no number", bg, nil, blend, []string{"--python-exit-code", "+3", "--python-expr", "x"}, `--python-exit-code "+3"`},
		{"arguments for scripts", bg, nil, blend, []string{"-f", "1", "--", "x", "-f", "--render-anim"}, ""},
		{"a Cycles option for scripts", bg, nil, blend, []string{"-f", "1", "--", "--cycles-device", "CUDA"}, `"--cycles-device" after "--"`},
		{"a text block", bg, nil, blend, []string{"--python-text", "t", "-f", "1"}, `argument "--python-text"`},
		{"a console", bg, nil, blend, []string{"--python-console", "-f", "1"}, `argument "--python-console"`},
		{"frames it cannot read", bg, nil, blend, []string{"-f", "1-3"}, `frames "1-3"`},
		{"an open range", bg, nil, blend, []string{"-f", "1.."}, `frames "1.."`},
		{"an empty item", bg, nil, blend, []string{"-f", "1,,2"}, `frames "1,,2"`},
		{"a start that is no number", bg, nil, blend, []string{"-s", "one", "-a"}, `-s "one" is not a frame number`},
		{"a movie", bg, nil, blend, []string{"-F", "FFMPEG", "-a"}, "--render-format FFMPEG"},
		{"a format Blender does not know", bg, nil, blend, []string{"-F", "GIF", "-f", "1"}, "--render-format GIF"},
		{"a value missing", bg, nil, blend, []string{"-f", "1", "-o"}, `"-o" has no value`},
		{"nothing rendered", bg, nil, blend, []string{"-o", "/r/#"}, "render nothing"},
		{"blend file gone", bg, nil, filepath.Join(dir, "gone.blend"), sbr, "blend file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wt, why := warmFor(exe, tt.exeArgs, tt.argsBefore, tt.blend, tt.args, dir, nil)
			if tt.why == "" {
				if why != "" {
					t.Fatalf("cold: %s", why)
				}
				wantArgv := append(append(append(append([]string{exe}, tt.exeArgs...), tt.argsBefore...), tt.blend), tt.args...)
				if strings.Join(wt.argv, " ") != strings.Join(wantArgv, " ") {
					t.Errorf("argv %q, want %q", wt.argv, wantArgv)
				}
				if last := wt.prefix[len(wt.prefix)-1]; last != tt.blend {
					t.Errorf("the session starts with %q, not ending with the blend file", wt.prefix)
				}
				return
			}
			if !strings.Contains(why, tt.why) {
				t.Errorf("cold because %q, want it to say %q", why, tt.why)
			}
		})
	}
}

// TestWarmKey: tasks that differ only in their arguments after the blend
// file share a session; anything else that reaches Blender makes another.
func TestWarmKey(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "blender")
	blend := filepath.Join(dir, "scene.blend")
	for _, f := range []string{exe, blend} {
		if err := os.WriteFile(f, []byte("x"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	key := func(args []string, workDir string, env map[string]string) string {
		t.Helper()
		wt, why := warmFor(exe, []string{"-b", "-y"}, nil, blend, args, workDir, env)
		if why != "" {
			t.Fatalf("cold: %s", why)
		}
		return wt.key
	}
	base := key([]string{"-o", "/r/#", "-f", "1"}, dir, nil)
	same := map[string]string{
		"other frames":      key([]string{"-o", "/r/#", "-f", "2..9"}, dir, nil),
		"another frame too": key([]string{"-o", "/r/#", "-f", "+3"}, dir, nil),
	}
	for name, k := range same {
		if k != base {
			t.Errorf("%s: another session, want the same", name)
		}
	}
	// The driver applies the arguments after the blend file per task, after
	// a reload: tasks that differ in them share a session (Single Image's
	// tiles differ in their output and script).
	same = map[string]string{
		"other output":      key([]string{"-o", "/s/#", "-f", "1"}, dir, nil),
		"another option":    key([]string{"-o", "/r/#", "-E", "CYCLES", "-f", "1"}, dir, nil),
		"options reordered": key([]string{"-f", "1", "-o", "/r/#"}, dir, nil),
		"another script":    key([]string{"-o", "/r/#", "--python-expr", "border(1)"}, dir, nil),
		"a script file":     key([]string{"-o", "/r/#", "--python", "x.py", "-f", "1"}, dir, nil),
	}
	for name, k := range same {
		if k != base {
			t.Errorf("%s: another session, want the same", name)
		}
	}
	differ := map[string]string{
		"working folder": key([]string{"-o", "/r/#", "-f", "1"}, t.TempDir(), nil),
		"environment":    key([]string{"-o", "/r/#", "-f", "1"}, dir, map[string]string{"OCIO": "/x"}),
	}
	for name, k := range differ {
		if k == base {
			t.Errorf("%s: the same session, want another", name)
		}
	}
	// A blend file or a Blender changed on disk is another one.
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(blend, later, later); err != nil {
		t.Fatal(err)
	}
	if key([]string{"-o", "/r/#", "-f", "1"}, dir, nil) == base {
		t.Error("a blend file saved again: the same session, want another")
	}
	base = key([]string{"-o", "/r/#", "-f", "1"}, dir, nil)
	if err := os.WriteFile(exe, []byte("xx"), 0o755); err != nil {
		t.Fatal(err)
	}
	if key([]string{"-o", "/r/#", "-f", "1"}, dir, nil) == base {
		t.Error("a Blender replaced: the same session, want another")
	}
}

// table is a [plugins.blender] table as the host sends it (through JSON,
// like sdk.Run.PluginConfig).
type table map[string]any

func (tb table) PluginConfig(v any) error {
	if len(tb) == 0 {
		return nil
	}
	raw, err := json.Marshal(map[string]any(tb))
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

func TestConfigWarmSettings(t *testing.T) {
	tests := []struct {
		name    string
		table   table
		check   func(config) bool
		wantErr string
	}{
		{"defaults", nil, func(c config) bool {
			return c.WarmSessions && time.Duration(c.WarmIdle) == time.Minute && c.WarmMaxTasks == 100 && c.WarmMaxRSS == memLimit{Percent: 50}
		}, ""},
		{"off", table{"warm_sessions": false}, func(c config) bool { return !c.WarmSessions }, ""},
		{"idle as a duration", table{"warm_idle": "2m30s"}, func(c config) bool { return time.Duration(c.WarmIdle) == 150*time.Second }, ""},
		{"idle in seconds", table{"warm_idle": 90}, func(c config) bool { return time.Duration(c.WarmIdle) == 90*time.Second }, ""},
		{"idle unreadable", table{"warm_idle": "soon"}, nil, `duration "soon"`},
		{"idle zero", table{"warm_idle": "0s"}, nil, "warm_idle must be a positive duration"},
		{"max tasks", table{"warm_max_tasks": 7}, func(c config) bool { return c.WarmMaxTasks == 7 }, ""},
		{"max tasks zero", table{"warm_max_tasks": 0}, nil, "warm_max_tasks must be at least 1"},
		{"rss in GiB", table{"warm_max_rss": "16GiB"}, func(c config) bool { return c.WarmMaxRSS.of(0) == 16<<30 }, ""},
		{"rss in MB", table{"warm_max_rss": "500 MB"}, func(c config) bool { return c.WarmMaxRSS.of(0) == 500e6 }, ""},
		{"rss in bytes", table{"warm_max_rss": 1048576}, func(c config) bool { return c.WarmMaxRSS.of(0) == 1<<20 }, ""},
		{"rss share", table{"warm_max_rss": "25%"}, func(c config) bool { return c.WarmMaxRSS.of(8<<30) == 2<<30 }, ""},
		{"rss off", table{"warm_max_rss": "0"}, func(c config) bool { return c.WarmMaxRSS.of(8<<30) == 0 }, ""},
		{"rss unreadable", table{"warm_max_rss": "lots"}, nil, `memory size "lots"`},
		{"rss share too big", table{"warm_max_rss": "150%"}, nil, "memory size"},
		{"exit timeout default", nil, func(c config) bool { return time.Duration(c.ExitTimeout) == time.Minute }, ""},
		{"exit timeout", table{"exit_timeout": "5m"}, func(c config) bool { return time.Duration(c.ExitTimeout) == 5*time.Minute }, ""},
		{"exit timeout off", table{"exit_timeout": 0}, func(c config) bool { return c.ExitTimeout == 0 }, ""},
		{"exit timeout negative", table{"exit_timeout": "-1s"}, nil, "exit_timeout must be a duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := loadConfig(tt.table)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(cfg) {
				t.Errorf("decoded %+v", cfg)
			}
		})
	}
}
