//go:build !windows

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/sdk/sdktest"
)

// rootsFixture is a folder with an allowed root and a folder outside it:
//
//	root/            allowed
//	root/in/file     a file inside
//	root/out-link -> outside/deep
//	root/file-link -> outside/secret
//	root-link -> root
//	outside/deep/
//	outside/secret
//	outside/existing/kept
type rootsFixture struct{ base, root, outside string }

func newRootsFixture(t *testing.T) rootsFixture {
	t.Helper()
	tmp, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(tmp, "base")
	return rootsFixture{base: base, root: filepath.Join(base, "root"), outside: filepath.Join(base, "outside")}
}

// make creates the fixture's files.
func (f rootsFixture) make(t *testing.T) {
	t.Helper()
	base := f.base
	write(t, filepath.Join(f.root, "in", "file"), "inside", 0o644)
	write(t, filepath.Join(f.outside, "secret"), "secret", 0o600)
	write(t, filepath.Join(f.outside, "existing", "kept"), "kept", 0o644)
	if err := os.MkdirAll(filepath.Join(f.outside, "deep"), 0o755); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{
		filepath.Join(f.root, "out-link"):  filepath.Join(f.outside, "deep"),
		filepath.Join(f.root, "file-link"): filepath.Join(f.outside, "secret"),
		filepath.Join(base, "root-link"):   f.root,
	} {
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAllowedRoots(t *testing.T) {
	// Paths are built by hand: filepath.Join would clean "link/.." away.
	f := newRootsFixture(t) // a fresh one per case, in the same place
	in := func(p ...string) string { return f.root + "/" + strings.Join(p, "/") }
	cases := []struct {
		name    string
		roots   []any
		command string
		params  map[string]any
		refused string // "" = completes; else a substring of the message
		absent  string // a path that must not exist afterwards
	}{
		{"make-directory inside", nil, "make-directory", map[string]any{"path": in("a", "b")}, "", ""},
		{"make-directory with ..", nil, "make-directory", map[string]any{"path": in("..", "escaped")},
			"make-directory: path " + in("..", "escaped") + " (that is " + filepath.Join(f.base, "escaped") + ") is outside files.allowed_roots [" + f.root + "]", filepath.Join(f.base, "escaped")},
		{"make-directory through a link", nil, "make-directory", map[string]any{"path": in("out-link", "x")},
			"is outside files.allowed_roots", filepath.Join(f.outside, "deep", "x")},
		{"make-directory: .. after a link goes to the link target's parent", nil, "make-directory", map[string]any{"path": in("out-link", "..", "x")},
			"(that is " + filepath.Join(f.outside, "x") + ")", filepath.Join(f.outside, "x")},
		{"make-directory relative, with ..", nil, "make-directory", map[string]any{"path": "../escaped"},
			"is outside files.allowed_roots", filepath.Join(f.base, "escaped")},
		{"copy-file inside", nil, "copy-file", map[string]any{"src": in("in", "file"), "dest": in("copy")}, "", ""},
		{"copy-file to a folder through a link", nil, "copy-file", map[string]any{"src": in("in", "file"), "dest": in("out-link", "copy")},
			"copy-file: dest's folder " + in("out-link") + " (that is " + filepath.Join(f.outside, "deep") + ") is outside", filepath.Join(f.outside, "deep", "copy")},
		{"copy-file from a link to a file outside", nil, "copy-file", map[string]any{"src": in("file-link"), "dest": in("stolen")},
			"copy-file: src " + in("file-link") + " (that is " + filepath.Join(f.outside, "secret") + ") is outside", in("stolen")},
		{"copy-file from outside", nil, "copy-file", map[string]any{"src": filepath.Join(f.outside, "secret"), "dest": in("stolen")},
			"copy-file: src " + filepath.Join(f.outside, "secret") + " is outside", in("stolen")},
		{"move-directory inside", nil, "move-directory", map[string]any{"src": in("in"), "dest": in("moved")}, "", ""},
		{"move-directory onto an existing folder outside", nil, "move-directory", map[string]any{"src": in("in"), "dest": in("..", "outside", "existing")},
			"move-directory: dest " + in("..", "outside", "existing") + " (that is " + filepath.Join(f.outside, "existing") + ") is outside", ""},
		{"move-directory onto the root itself", []any{f.root, f.outside}, "move-directory", map[string]any{"src": filepath.Join(f.outside, "existing"), "dest": f.root},
			"the existing dest's new name " + f.root + "-", ""},
		{"move-directory from outside", nil, "move-directory", map[string]any{"src": filepath.Join(f.outside, "existing"), "dest": in("taken")},
			"move-directory: src", in("taken")},
		{"a root given through a link", []any{filepath.Join(f.base, "root-link")}, "make-directory", map[string]any{"path": in("c")}, "", ""},
		{"a path through a link to the root", nil, "make-directory", map[string]any{"path": filepath.Join(f.base, "root-link", "d")}, "", ""},
		{"two roots", []any{f.root, f.outside}, "copy-file", map[string]any{"src": filepath.Join(f.outside, "secret"), "dest": in("copy2")}, "", ""},
		{`"/" allows anywhere`, []any{"/"}, "make-directory", map[string]any{"path": in("..", "anywhere")}, "", ""},
		{"a relative root", []any{"root"}, "make-directory", map[string]any{"path": in("e")}, `files.allowed_roots entry "root" is not an absolute path`, in("e")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.RemoveAll(f.base); err != nil {
				t.Fatal(err)
			}
			f.make(t)
			roots := tc.roots
			if roots == nil {
				roots = []any{f.root}
			}
			res := sdktest.Run(t, plugin(), tc.command, tc.params, sdktest.Options{WorkDir: f.root, Config: map[string]any{"allowed_roots": roots}})
			if tc.refused == "" {
				if res.Status != sdktest.Completed {
					t.Fatalf("%s: %s", res.Status, res.Message)
				}
				return
			}
			if res.Status != sdktest.Failed || !strings.Contains(res.Message, tc.refused) {
				t.Fatalf("%s %q, want a refusal saying %q", res.Status, res.Message, tc.refused)
			}
			if tc.absent != "" {
				if _, err := os.Lstat(tc.absent); !os.IsNotExist(err) {
					t.Errorf("%s was created: %v", tc.absent, err)
				}
			}
			// Nothing outside was touched.
			if got := read(t, filepath.Join(f.outside, "existing", "kept")); got != "kept" {
				t.Errorf("outside/existing/kept is %q", got)
			}
			if names := entries(t, f.outside); strings.Join(names, ",") != "deep,existing,secret" {
				t.Errorf("outside holds %v", names)
			}
			if names := entries(t, f.base); strings.Join(names, ",") != "outside,root,root-link" {
				t.Errorf("the base folder holds %v", names)
			}
		})
	}
}

func TestAllowedRootsConfigIsStrict(t *testing.T) {
	res := sdktest.Run(t, plugin(), "make-directory", map[string]any{"path": t.TempDir()}, sdktest.Options{Config: map[string]any{"allowed_root": []any{"/"}}})
	if res.Status != sdktest.Failed || !strings.Contains(res.Message, "[plugins.files] in cajon.toml: unknown key allowed_root") {
		t.Fatalf("%s %q", res.Status, res.Message)
	}
}

func TestResolve(t *testing.T) {
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	mk := func(link, target string) {
		if err := os.Symlink(target, filepath.Join(base, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(base, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	mk("abs", filepath.Join(base, "a", "b"))
	mk("rel", "a/b")
	mk("up", "a/b/..")
	mk("chain", "rel")
	mk("dangling", "nowhere/x")
	mk("loop1", "loop2")
	mk("loop2", "loop1")
	cases := []struct{ path, want string }{
		{base + "/a/b", base + "/a/b"},
		{base + "/a/./b/", base + "/a/b"},
		{base + "/abs/c", base + "/a/b/c"},
		{base + "/rel/../c", base + "/a/c"},
		{base + "/up/b", base + "/a/b"},
		{base + "/chain", base + "/a/b"},
		{base + "/missing/../a", base + "/a"},
		{base + "/dangling", base + "/nowhere/x"},
		{"/../../" + base[1:] + "/a", base + "/a"},
	}
	for _, tc := range cases {
		got, err := resolve(tc.path)
		if err != nil || got != tc.want {
			t.Errorf("resolve(%s) = %s, %v; want %s", tc.path, got, err, tc.want)
		}
	}
	if _, err := resolve(base + "/loop1/x"); err == nil || !strings.Contains(err.Error(), "too many levels of symbolic links") {
		t.Errorf("a link loop: %v", err)
	}
}
