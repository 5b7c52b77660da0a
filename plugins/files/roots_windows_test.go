package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/internal/testtemp"
	"github.com/cajonfarm/cajon/sdk/sdktest"
)

// TestAllowedRootsWindows checks the guard with paths written as a
// Manager's two-way variables and Windows tools write them: another case,
// forward slashes, the \\?\ form, and ".." out of the root. (Junctions are
// followed by readLink; wine 8 cannot make one, so that is tested on
// Windows only, see docs/PLATFORMS.md.)
func TestAllowedRootsWindows(t *testing.T) {
	tmp := testtemp.Dir(t)
	root := filepath.Join(tmp, "Render")
	write(t, filepath.Join(root, "in", "file"), "inside", 0o644)
	write(t, filepath.Join(tmp, "secret"), "secret", 0o644)
	upper, lower := strings.ToUpper(root), strings.ToLower(root)
	slashed := filepath.ToSlash(lower)
	cases := []struct {
		name    string
		roots   []any
		command string
		params  map[string]any
		refused string
	}{
		{"the root in capitals", []any{upper}, "make-directory", map[string]any{"path": filepath.Join(root, "a")}, ""},
		{"the path in lower case", []any{root}, "make-directory", map[string]any{"path": lower + `\b`}, ""},
		{"the drive letter's case", []any{strings.ToLower(root[:1]) + root[1:]}, "make-directory", map[string]any{"path": strings.ToUpper(root[:1]) + root[1:] + `\c`}, ""},
		{"forward slashes", []any{root}, "copy-file", map[string]any{"src": slashed + "/in/file", "dest": slashed + "/copy"}, ""},
		{`the \\?\ form`, []any{root}, "make-directory", map[string]any{"path": `\\?\` + root + `\d`}, ""},
		{"a root with a trailing separator", []any{root + `\`}, "make-directory", map[string]any{"path": root + `\e`}, ""},
		{`..\ out of the root`, []any{upper}, "make-directory", map[string]any{"path": lower + `\..\escaped`}, "is outside files.allowed_roots"},
		{"a sibling whose name starts like the root", []any{root}, "make-directory", map[string]any{"path": root + `2\x`}, "is outside files.allowed_roots"},
		{"copy from outside, in capitals", []any{root}, "copy-file", map[string]any{"src": strings.ToUpper(filepath.Join(tmp, "secret")), "dest": root + `\stolen`}, "is outside files.allowed_roots"},
		{"moving the root into itself in another case", []any{tmp}, "move-directory", map[string]any{"src": root, "dest": upper + `\in\moved`}, "into itself"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := sdktest.Run(t, plugin(), tc.command, tc.params, sdktest.Options{WorkDir: root, Config: map[string]any{"allowed_roots": tc.roots}})
			if tc.refused == "" {
				if res.Status != sdktest.Completed {
					t.Fatalf("%s: %s", res.Status, res.Message)
				}
				return
			}
			if res.Status != sdktest.Failed || !strings.Contains(res.Message, tc.refused) {
				t.Fatalf("%s %q, want a refusal saying %q", res.Status, res.Message, tc.refused)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(tmp, "escaped")); !os.IsNotExist(err) {
		t.Errorf("escaped was created: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "stolen")); !os.IsNotExist(err) {
		t.Errorf("stolen was created: %v", err)
	}
}
