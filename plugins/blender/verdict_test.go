package main

import (
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/sdk/process"
)

// The verdict of a render, from what Blender printed and wrote, without
// Blender: complaints fail a task only when a frame asked for is missing,
// unless the strict settings say otherwise.
func TestVerdict(t *testing.T) {
	pyErr := []string{"Error: Python: Traceback (most recent call last):", `  File "<string>", line 1, in <module>`, "RuntimeError: boom"}
	missing := []string{"Warning: Unable to open '/lib.blend': No such file or directory"}
	strict := config{FailOnErrorLines: true, FailOnMissingFiles: true}
	tests := []struct {
		name    string
		lines   []string
		exit    int
		fc      frameCount
		cfg     config
		fail    string // in the error; "" = completes
		warning string // in the only warning; "" = none
	}{
		{name: "clean", fc: frameCount{asks: true, total: 2, written: 2}},
		{name: "error, every frame", lines: pyErr, fc: frameCount{asks: true, total: 2, written: 2},
			warning: "Blender reported 1 error, but every frame asked for was saved: Error: Python: Traceback (most recent call last): ... RuntimeError: boom"},
		{name: "missing file, every frame", lines: missing, fc: frameCount{asks: true, total: 1, written: 1},
			warning: "Blender could not open files the scene needs (1 message), but every frame asked for was saved: Warning: Unable to open"},
		{name: "error, strict", lines: pyErr, fc: frameCount{asks: true, total: 1, written: 1}, cfg: strict, fail: "fail_on_error_lines"},
		{name: "missing, strict", lines: missing, fc: frameCount{asks: true, total: 1, written: 1}, cfg: strict, fail: "fail_on_missing_files"},
		{name: "error, a frame missing", lines: pyErr, fc: frameCount{asks: true, total: 3, written: 2}, fail: "wrote only 2 of the 3 frames asked for"},
		{name: "nothing written", fc: frameCount{asks: true, total: 3}, fail: "without rendering any of the 3 frames"},
		{name: "error, count unknown, some frames", lines: pyErr, fc: frameCount{asks: true, written: 4}, warning: "but it saved 4 frames"},
		{name: "error, count unknown, no frame", lines: pyErr, fc: frameCount{asks: true}, fail: "reported problems and wrote no frame"},
		{name: "error, no frames asked", lines: pyErr, fc: frameCount{}, warning: "but the render completed"},
		{name: "exit status", exit: 3, fc: frameCount{asks: true, total: 1, written: 1}, fail: "Blender exited with status 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tr tracker
			for _, l := range tt.lines {
				tr.feed(l)
			}
			warnings, err := verdict(process.Result{ExitCode: tt.exit}, &tr, nil, tt.fc, tt.cfg)
			switch {
			case tt.fail == "" && err != nil:
				t.Fatalf("failed: %v", err)
			case tt.fail != "" && (err == nil || !strings.Contains(err.Error(), tt.fail)):
				t.Fatalf("error %v, want one saying %q", err, tt.fail)
			}
			switch {
			case tt.warning == "" && len(warnings) > 0:
				t.Errorf("warnings %q, want none", warnings)
			case tt.warning != "" && (len(warnings) != 1 || !strings.Contains(warnings[0], tt.warning)):
				t.Errorf("warnings %q, want one saying %q", warnings, tt.warning)
			}
		})
	}
}
