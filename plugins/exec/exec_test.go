package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/sdk"
	"github.com/cajonfarm/cajon/sdk/sdktest"
)

func plugin() sdk.Plugin {
	return sdk.Plugin{Name: "exec", Commands: []sdk.Command{
		sdk.NewCommand[Exec]("exec", "misc", ""),
		sdk.NewCommand[Echo]("echo", "misc", ""),
		sdk.NewCommand[Sleep]("sleep", "misc", ""),
	}}
}

func TestCommands(t *testing.T) {
	dir := t.TempDir()
	noExecBit := filepath.Join(dir, "noexec.sh")
	if err := os.WriteFile(noExecBit, []byte("#!/bin/sh\necho \"no x bit: $1\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		command string
		params  map[string]any
		status  sdktest.Status
		lines   string // joined with |
		message string // substring of the failure message
	}{
		{"echo", "echo", map[string]any{"message": "hello"}, sdktest.Completed, "hello", ""},
		{"echo multi-line", "echo", map[string]any{"message": "a\nb"}, sdktest.Completed, "a|b", ""},
		{"exec without a shell", "exec", map[string]any{"exe": "echo", "args": []any{"$HOME", "a b"}}, sdktest.Completed, "$HOME a b", ""},
		{"exec env and dir", "exec", map[string]any{"exe": "sh", "args": []any{"-c", "echo $GREETING; pwd"}, "env": map[string]any{"GREETING": "hi"}, "dir": dir},
			sdktest.Completed, "hi|" + dir, ""},
		{"exec exit status", "exec", map[string]any{"exe": "sh", "args": []any{"-c", "echo oops >&2; exit 4"}}, sdktest.Failed, "oops", "sh exited with status 4; last output:\noops"},
		{"exec missing program", "exec", map[string]any{"exe": "/nonexistent/prog"}, sdktest.Failed, "", "/nonexistent/prog"},
		{"exec neither exe nor script", "exec", map[string]any{}, sdktest.Failed, "", `give exactly one of "exe"`},
		{"exec both exe and script", "exec", map[string]any{"exe": "true", "script": "#!/bin/sh\n"}, sdktest.Failed, "", `give exactly one of "exe"`},
		{"inline script", "exec", map[string]any{"script": "#!/bin/sh\necho from script\necho \"$0\" | grep -q cajon-script- && echo private temp file"}, sdktest.Completed, "from script|private temp file", ""},
		{"inline script with an interpreter argument", "exec", map[string]any{"script": "#!/usr/bin/env sh\necho env ok"}, sdktest.Completed, "env ok", ""},
		{"script without #!", "exec", map[string]any{"script": "echo hi"}, sdktest.Failed, "", "must start with a #! line"},
		{"script file without execute bit", "exec", map[string]any{"exe": noExecBit, "args": []any{"arg1"}}, sdktest.Completed, "no x bit: arg1", ""},
		// Flamenco's stock worker prints echo's message of any type with %v.
		// Lists and tables are refused: their %v would hide the mistake.
		{"echo a number", "echo", map[string]any{"message": 24.0}, sdktest.Completed, "24", ""},
		{"echo a fraction", "echo", map[string]any{"message": 23.976}, sdktest.Completed, "23.976", ""},
		{"echo a boolean", "echo", map[string]any{"message": true}, sdktest.Completed, "true", ""},
		{"echo a list", "echo", map[string]any{"message": []any{"a"}}, sdktest.Failed, "", `parameter "message": expected a string, got a list (["a"])`},
		{"exec numbers and booleans in args", "exec", map[string]any{"exe": "echo", "args": []any{"-r", 23.976, 24.0, true}}, sdktest.Completed, "-r 23.976 24 true", ""},
		{"exec a table in args", "exec", map[string]any{"exe": "echo", "args": []any{"a", map[string]any{"b": 1.0}}}, sdktest.Failed, "",
			`parameter "args": expected a list of strings, but element 1 is a table ({"b":1})`},
		{"exec numbers in env", "exec", map[string]any{"exe": "sh", "args": []any{"-c", "echo $N"}, "env": map[string]any{"N": 2.0}}, sdktest.Completed, "2", ""},
		// sleep takes an int or a float, as the stock worker's type switch
		// does (a JSON integer arrives as a float64, a TOML one as int64).
		// The stock worker truncates to whole seconds; fractions are honoured
		// here, which is what a job asking for 0.05 s means.
		{"sleep integer", "sleep", map[string]any{"duration_in_seconds": 0.0}, sdktest.Completed, "slept 0s", ""},
		{"sleep TOML integer", "sleep", map[string]any{"duration_in_seconds": int64(0)}, sdktest.Completed, "slept 0s", ""},
		{"sleep fraction", "sleep", map[string]any{"duration_in_seconds": 0.05}, sdktest.Completed, "slept 50ms", ""},
		{"sleep negative", "sleep", map[string]any{"duration_in_seconds": -1}, sdktest.Failed, "", "must not be negative"},
		{"sleep beyond what a duration holds", "sleep", map[string]any{"duration_in_seconds": 1e10}, sdktest.Failed, "",
			"duration_in_seconds is 1e+10, more than the largest allowed value 9223372036 (about 292 years)"},
		{"sleep just beyond the largest", "sleep", map[string]any{"duration_in_seconds": 9223372036.5}, sdktest.Failed, "", "more than the largest allowed value 9223372036"},
		{"sleep wrong type", "sleep", map[string]any{"duration_in_seconds": "5"}, sdktest.Failed, "", `parameter "duration_in_seconds": expected a number, got a string ("5"); write the number without quotes (5)`},
		{"sleep missing", "sleep", map[string]any{}, sdktest.Failed, "", `parameter "duration_in_seconds" is required`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := sdktest.Run(t, plugin(), tc.command, tc.params)
			if res.Status != tc.status {
				t.Fatalf("status %s (%q), want %s", res.Status, res.Message, tc.status)
			}
			if tc.lines != "" && strings.Join(res.Lines, "|") != tc.lines {
				t.Errorf("lines %q, want %q", strings.Join(res.Lines, "|"), tc.lines)
			}
			if !strings.Contains(res.Message, tc.message) {
				t.Errorf("message %q, want it to contain %q", res.Message, tc.message)
			}
		})
	}
}

func TestInlineScriptIsRemoved(t *testing.T) {
	res := sdktest.Run(t, plugin(), "exec", map[string]any{"script": "#!/bin/sh\necho \"$0\""})
	if res.Status != sdktest.Completed || len(res.Lines) != 1 {
		t.Fatalf("%+v", res)
	}
	if _, err := os.Stat(res.Lines[0]); !os.IsNotExist(err) {
		t.Fatalf("script file %s still there after the run (%v)", res.Lines[0], err)
	}
	if _, err := os.Stat(filepath.Dir(res.Lines[0])); !os.IsNotExist(err) {
		t.Fatalf("script folder still there")
	}
}

func TestSleepIsCancellable(t *testing.T) {
	// The largest allowed value is a real wait, not a wrapped-around one.
	res := sdktest.Run(t, plugin(), "sleep", map[string]any{"duration_in_seconds": float64(maxSleepSeconds)}, sdktest.Options{CancelAfter: 50 * time.Millisecond})
	if res.Status != sdktest.Canceled {
		t.Fatalf("the longest sleep: %+v", res)
	}
	if len(res.Progress) == 0 || !strings.HasPrefix(res.Progress[0].Activity, "sleeping 2562047h47m") {
		t.Errorf("activity %+v, want sleeping 2562047h47m...", res.Progress)
	}

	res = sdktest.Run(t, plugin(), "sleep", map[string]any{"duration_in_seconds": 600}, sdktest.Options{CancelAfter: 50 * time.Millisecond})
	if res.Status != sdktest.Canceled {
		t.Fatalf("%+v", res)
	}
}
