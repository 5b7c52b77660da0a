//go:build unix

// Package pythonplugin_test runs the Python example plugin through the real
// host: `cajon plugins check`, then a job in the local queue.
package pythonplugin_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/internal/testbin"
)

// python finds a python3 that can run the plugin: grpcio, protobuf new
// enough for the committed stubs, and cryptography. Debian's is tried after
// the first one on PATH (which may be another installation without them).
func python(t *testing.T) string {
	t.Helper()
	check := "import sys; sys.path.insert(0, 'gen'); import grpc, cryptography; from cajon.plugin.v1 import plugin_pb2, plugin_pb2_grpc"
	var tried []string
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		path, err := exec.LookPath(p)
		if err != nil {
			continue
		}
		cmd := exec.Command(path, "-c", check)
		out, err := cmd.CombinedOutput()
		if err == nil {
			return path
		}
		tried = append(tried, fmt.Sprintf("%s: %s", path, lastLine(string(out))))
	}
	t.Skipf("no python3 with grpcio, protobuf >= 4.21 and cryptography (Debian: apt-get install python3-grpcio python3-protobuf python3-cryptography); the Python example plugin is not tested. Tried: %s",
		strings.Join(tried, "; "))
	return ""
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// install copies the plugin and its stubs into a plugin folder of its own.
func install(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "plugins")
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "__pycache__" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dir, path), 0o755)
		}
		if path != "cajon-plugin-checksum" && !strings.HasSuffix(path, ".py") {
			return nil
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, path), raw, 0o755)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestPythonPlugin(t *testing.T) {
	py := python(t)
	bin := t.TempDir()
	if err := testbin.Build(bin); err != nil {
		t.Fatal(err)
	}
	plugins := install(t)
	// The plugin runs as `#!/usr/bin/env python3`: put the python that has
	// the packages first on PATH.
	pathDir := t.TempDir()
	if err := os.Symlink(py, filepath.Join(pathDir, "python3")); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	env := []string{
		"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"PATH=" + pathDir + string(os.PathListSeparator) + os.Getenv("PATH"),
		"CAJON_STATE_DIR=" + filepath.Join(home, "state"), "CAJON_PLUGIN_DIRS=" + plugins,
	}
	cajon := func(args ...string) (string, string, int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(bin, "cajon"), args...)
		cmd.Env = env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("cajon %v: %v", args, err)
		}
		return stdout.String(), stderr.String(), code
	}

	t.Run("plugins check", func(t *testing.T) {
		out, errOut, code := cajon("plugins", "check", "checksum", "--grace", "2s")
		if code != 0 || !strings.Contains(out, "PASS: ") {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		t.Logf("\n%s", out)
	})

	// Its [plugins.checksum] table is checked against the config_schema it
	// answers, by `plugins check` and by the worker when it starts.
	tables := []struct {
		name, toml string
		ok         bool
		want       string // in the output
	}{
		{"a table that fits", "[plugins.checksum]\nchunk_bytes = 65536\n", true, "[plugins.checksum] accepts chunk_bytes; the table given fits"},
		{"a typo in the table", "[plugins.checksum]\nchunk_byte = 65536\n", false, `unknown key "chunk_byte" (did you mean "chunk_bytes"?)`},
		{"a wrong type", "[plugins.checksum]\nchunk_bytes = \"64k\"\n", false, `key "chunk_bytes": expected an integer, got a string ("64k")`},
	}
	for _, tb := range tables {
		t.Run("plugins check: "+tb.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "cajon.toml")
			if err := os.WriteFile(file, []byte(tb.toml), 0o600); err != nil {
				t.Fatal(err)
			}
			out, errOut, code := cajon("plugins", "check", "checksum", "--grace", "2s", "--config", file)
			if (code == 0) != tb.ok || !strings.Contains(out, tb.want) {
				t.Fatalf("exit %d, want ok %v and %q\n%s\n%s", code, tb.ok, tb.want, out, errOut)
			}
			if tb.ok {
				return
			}
			if _, errOut, code := cajon("local", "run", "--until-idle", "--config", file); code == 0 || !strings.Contains(errOut, tb.want) {
				t.Fatalf("local run: exit %d, want a refusal saying %q\n%s", code, tb.want, errOut)
			}
		})
	}

	t.Run("a job in the local queue", func(t *testing.T) {
		work := t.TempDir()
		data := bytes.Repeat([]byte("cajon "), 512<<10) // 3 MiB
		file := filepath.Join(work, "data.bin")
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		digest := hex.EncodeToString(sum[:])
		job := filepath.Join(work, "job.toml")
		jobText := fmt.Sprintf(`name = "hash"
[[tasks]]
name = "hash"
  [[tasks.commands]]
  name = "sha256-file"
  total_step_count = 8
  [tasks.commands.parameters]
  path = %q
  output = %q
`, file, filepath.Join(work, "data.sha256"))
		if err := os.WriteFile(job, []byte(jobText), 0o600); err != nil {
			t.Fatal(err)
		}
		out, errOut, code := cajon("local", "submit", job)
		if code != 0 {
			t.Fatalf("submit: exit %d\n%s\n%s", code, out, errOut)
		}
		id := strings.TrimSpace(out)
		if _, errOut, code := cajon("local", "run", "--until-idle"); code != 0 {
			t.Fatalf("local run: exit %d\n%s", code, errOut)
		}
		out, _, _ = cajon("local", "show", id, "--json")
		var shown struct {
			State      string `json:"state"`
			StepsDone  int    `json:"steps_done"`
			StepsTotal int    `json:"steps_total"`
		}
		if err := json.Unmarshal([]byte(out), &shown); err != nil {
			t.Fatalf("show --json: %v\n%s", err, out)
		}
		if shown.State != "completed" || shown.StepsDone != 8 || shown.StepsTotal != 8 {
			t.Errorf("job %+v, want completed with 8 of 8 steps", shown)
		}
		logs, _, _ := cajon("local", "logs", id)
		if !strings.Contains(logs, digest) {
			t.Errorf("the log lacks the digest %s:\n%s", digest, logs)
		}
		written, err := os.ReadFile(filepath.Join(work, "data.sha256"))
		if err != nil || !strings.HasPrefix(string(written), digest+"  ") {
			t.Errorf("output file: %q, %v", written, err)
		}
	})
}
