package flamenco

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/host/plugins"
	"github.com/cajonfarm/cajon/internal/flamencotrace"
	"github.com/cajonfarm/cajon/internal/testbin"
)

// TestRecordedTasksFitThePlugins decodes every task a real Manager handed
// its worker in the recordings (internal/flamencotrace) with the client's
// decoder, and checks every command's parameters against the description
// of the real plugin that runs it, built from this tree: no command unknown,
// no parameter undeclared, none of the wrong type after normalisation.
func TestRecordedTasksFitThePlugins(t *testing.T) {
	bin := t.TempDir()
	if err := testbin.Build(bin, "exec", "blender", "ffmpeg", "files"); err != nil {
		t.Fatal(err)
	}
	reg, err := plugins.Open(context.Background(), plugins.Options{Dirs: []string{filepath.Join(bin, "plugins")}})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	if notes := reg.Notes(); len(notes) > 0 {
		t.Fatalf("plugins left out: %q", notes)
	}

	traces, err := flamencotrace.All()
	if err != nil {
		t.Fatal(err)
	}
	shared, tmp := filepath.Join(t.TempDir(), "shared"), t.TempDir()
	seen := map[string]bool{}
	for _, tr := range traces {
		for i, raw := range tr.AssignedTasks() {
			task, err := decodeAssignedTask(flamencotrace.Substitute(raw, shared, tmp))
			if err != nil {
				t.Errorf("%s: assigned task %d: %v", tr.Name, i, err)
				continue
			}
			for j, c := range task.Commands {
				seen[c.Name] = true
				where := tr.Name + ": task " + task.Name + ": command " + c.Name
				if err := reg.CheckParams(c.Name, c.Parameters, true); err != nil {
					t.Errorf("%s: %v", where, err)
					continue
				}
				norm, err := reg.NormalizeParams(c.Name, c.Parameters, true)
				if err != nil {
					t.Errorf("%s: %v", where, err)
					continue
				}
				for name, v := range norm {
					if s, ok := v.(string); ok && strings.Contains(s, flamencotrace.Shared) {
						t.Errorf("%s: parameter %s still holds a placeholder: %q", where, name, s)
					}
				}
				if c.Name == "frames-to-video" {
					// The Manager's fps inside args is a JSON number; the
					// plugin gets the text the stock worker makes of it.
					args := norm["args"].([]string)
					if k := slices.Index(args, "-r"); k < 0 || k+1 >= len(args) || args[k+1] != "23.976" {
						t.Errorf("%s (command %d): args %q, want -r 23.976 as recorded", where, j, args)
					}
				}
			}
		}
	}
	for _, want := range []string{"echo", "sleep", "exec", "blender-render", "frames-to-video"} {
		if !seen[want] {
			t.Errorf("no recorded task has a %s command", want)
		}
	}
}

// TestRecordedAnswersDecode runs every answer in the recordings through the
// decoder the client uses for its operation.
func TestRecordedAnswersDecode(t *testing.T) {
	traces, err := flamencotrace.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range traces {
		for i, e := range tr.Exchanges {
			where := fmt.Sprintf("%s[%d] %s %s", tr.Name, i, e.Method, e.Path)
			answer := []byte(flamencotrace.Substitute(e.Answer, os.TempDir(), os.TempDir()))
			var err error
			switch {
			case e.Status >= 400 && e.Status != 423:
				if msg := decodeErrorMessage(answer); msg == "" || strings.HasPrefix(msg, "{") {
					t.Errorf("%s: no message found in %s", where, answer)
				}
				continue
			case e.Status != 200 && e.Status != 423:
				continue // no body
			case e.Path == "/api/v3/worker/register-worker":
				var w RegisteredWorker
				// The schema lists current_task as required, but the Manager
				// leaves it out: the decoder must not need it.
				if w, err = decodeRegisteredWorker(answer); err == nil && w.UUID == "" {
					t.Errorf("%s: no worker id", where)
				}
			case e.Path == "/api/v3/worker/task" && e.Status == 200:
				_, err = decodeAssignedTask(answer)
			case strings.HasSuffix(e.Path, "/may-i-run"):
				_, err = decodeMayKeepRunning(answer)
			default: // sign-on, state, 423 of task: {status_requested}
				var s WorkerStateChange
				if s, err = decodeStateChange(answer); err == nil && !s.StatusRequested.Known() {
					t.Errorf("%s: unknown status %q", where, s.StatusRequested)
				}
			}
			if err != nil {
				t.Errorf("%s: %v\n%s", where, err, answer)
			}
		}
	}
}
