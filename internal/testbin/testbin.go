// Package testbin builds the project's binaries for end-to-end tests and
// benchmarks: the host, the shipped plugins and the misbehaving test plugin.
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// pluginPackage maps a plugin name to its package.
func pluginPackage(name string) (string, bool) {
	pkg, ok := map[string]string{
		"exec":    "./plugins/exec",
		"blender": "./plugins/blender",
		"ffmpeg":  "./plugins/ffmpeg",
		"files":   "./plugins/files",
		"testkit": "./internal/testplugin",
		"foreign": "./internal/foreignplugin",
		"hello":   "./examples/hello-plugin",
	}[name]
	return pkg, ok
}

// Root finds the module root from the current directory.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// Build compiles the cajon host into dir/cajon and the named plugins into
// dir/plugins/cajon-plugin-<name>. Call it once per test binary (TestMain):
// the Go build cache makes repeated builds cheap.
func Build(dir string, plugins ...string) error {
	return BuildFor(runtime.GOOS, dir, plugins...)
}

// BuildFor is Build for the operating system goos (amd64, without cgo when
// it is not this one): "windows" gives cajon.exe and cajon-plugin-<name>.exe.
func BuildFor(goos, dir string, plugins ...string) error {
	root, err := Root()
	if err != nil {
		return err
	}
	exe := ""
	if goos == "windows" {
		exe = ".exe"
	}
	env := os.Environ()
	if goos != runtime.GOOS {
		env = append(env, "GOOS="+goos, "GOARCH=amd64", "CGO_ENABLED=0")
	}
	targets := [][2]string{{"./cmd/cajon", filepath.Join(dir, "cajon"+exe)}}
	for _, p := range plugins {
		pkg, ok := pluginPackage(p)
		if !ok {
			return fmt.Errorf("testbin: unknown plugin %q", p)
		}
		targets = append(targets, [2]string{pkg, filepath.Join(dir, "plugins", "cajon-plugin-"+p+exe)})
	}
	for _, t := range targets {
		cmd := exec.Command("go", "build", "-o", t[1], t[0])
		cmd.Dir = root
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", t[0], err, strings.TrimSpace(string(out)))
		}
		// The host refuses plugin files that group or others may write,
		// which a umask of 002 would give them.
		for _, p := range []string{t[1], filepath.Dir(t[1])} {
			if err := denyGroupWrite(p); err != nil {
				return err
			}
		}
	}
	return nil
}

// denyGroupWrite clears the group and others write bits of path.
func denyGroupWrite(path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	return os.Chmod(path, info.Mode()&^0o022)
}

// Main is the body of a TestMain whose tests run the binaries: it builds the
// host and the named plugins into a temporary folder, sets *dir to it, runs
// the tests and removes the folder. It returns the exit code for os.Exit.
func Main(m *testing.M, dir *string, plugins ...string) int {
	tmp, err := os.MkdirTemp("", "cajon-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	if err := Build(tmp, plugins...); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	*dir = tmp
	return m.Run()
}
