// Package examples_test builds examples/plugin-outside as a plugin author
// outside this repository would: a copy in a folder of its own, its go.mod
// pointing at the SDK module by an absolute replace, the real go tool, no
// workspace. Then `cajon plugins check` runs the result.
package examples_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/internal/testbin"
)

// The SDK's module, and the host's, which a plugin's build must never need.
const (
	sdkModule  = "github.com/cajonfarm/cajon/sdk"
	hostModule = "github.com/cajonfarm/cajon"
)

func TestPluginOutsideTheRepository(t *testing.T) {
	root, err := testbin.Root()
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	if rel, err := filepath.Rel(root, work); err == nil && !strings.HasPrefix(rel, "..") {
		t.Fatalf("the temporary folder %s is inside the repository %s: set TMPDIR to a folder outside it", work, root)
	}
	src := filepath.Join(work, "cajon-plugin-shout")
	copyExample(t, filepath.Join(root, "examples", "plugin-outside"), src)

	// Without a workspace, with go.mod and go.sum filled in as needed (as
	// `go mod tidy` would), so that only the copy's go.mod says where the
	// SDK is.
	goflags := slices.DeleteFunc(strings.Fields(os.Getenv("GOFLAGS")), func(f string) bool { return strings.HasPrefix(f, "-mod=") })
	env := append(slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "GOWORK=") || strings.HasPrefix(kv, "GOFLAGS=")
	}), "GOWORK=off", "GOFLAGS="+strings.Join(append(goflags, "-mod=mod"), " "))
	gocmd := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir, cmd.Env = src, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s in a copy of examples/plugin-outside: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	sdkDir := filepath.Join(root, "sdk")
	gocmd("mod", "edit", "-replace", sdkModule+"="+sdkDir)
	if got := strings.TrimSpace(gocmd("list", "-m", "-f", "{{.Replace.Dir}}", sdkModule)); got != sdkDir {
		t.Fatalf("the SDK module comes from %q, want %q", got, sdkDir)
	}
	// The SDK's module must stand alone: a package of the host's module
	// among the plugin's dependencies (an import sneaking back into sdk/)
	// would not build for anyone outside this repository.
	for _, mod := range strings.Fields(gocmd("list", "-deps", "-test", "-f", "{{with .Module}}{{.Path}}{{end}}", "./...")) {
		if mod == hostModule {
			t.Fatalf("building the plugin needs the host's module %s: the SDK imports one of its packages (go list -deps in sdk/ shows which)", hostModule)
		}
	}
	gocmd("vet", "./...")
	gocmd("test", "-count=1", "./...")

	exe := ""
	if runtime.GOOS == "windows" {
		exe = ".exe"
	}
	plugins := filepath.Join(work, "plugins")
	binary := filepath.Join(plugins, "cajon-plugin-shout"+exe)
	gocmd("build", "-o", binary, ".")
	// The host refuses plugin files that group or others may write.
	for _, p := range []string{binary, plugins} {
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, info.Mode().Perm()&^0o022); err != nil {
			t.Fatal(err)
		}
	}

	bin := t.TempDir()
	if err := testbin.Build(bin); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	check := exec.CommandContext(ctx, filepath.Join(bin, "cajon"+exe), "plugins", "check", binary, "--grace", "2s")
	check.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"CAJON_STATE_DIR="+filepath.Join(home, "state"), "CAJON_PLUGIN_DIRS="+plugins)
	var stdout, stderr bytes.Buffer
	check.Stdout, check.Stderr = &stdout, &stderr
	if err := check.Run(); err != nil || !strings.Contains(stdout.String(), "PASS: ") {
		t.Fatalf("cajon plugins check: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	t.Logf("\n%s", stdout.String())
}

// copyExample copies the example's files (not what building it leaves).
func copyExample(t *testing.T, from, to string) {
	t.Helper()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !(strings.HasSuffix(name, ".go") || name == "go.mod" || name == "go.sum") {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(from, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, name), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
