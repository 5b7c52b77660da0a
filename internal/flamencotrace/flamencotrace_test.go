package flamencotrace

import (
	"encoding/json"
	"testing"
)

// TestEveryTraceReads checks the recordings against what the README says
// they hold, so a damaged or truncated file shows up here first.
func TestEveryTraceReads(t *testing.T) {
	traces, err := All()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct{ exchanges, assigned int }{
		"01-register-signon":       {3, 0},
		"02-echo-sleep-test":       {15, 3},
		"03-simple-blender-render": {19, 3},
		"04-cancel-running-task":   {4, 1},
		"05-worker-actions":        {4, 0},
		"06-refused-requests":      {5, 0},
		"07-shutdown-lazy":         {2, 0},
	}
	if len(traces) != len(want) {
		t.Fatalf("%d traces, want %d", len(traces), len(want))
	}
	for _, tr := range traces {
		w, ok := want[tr.Name]
		if !ok {
			t.Errorf("unexpected trace %s", tr.Name)
			continue
		}
		if len(tr.Exchanges) != w.exchanges || len(tr.AssignedTasks()) != w.assigned {
			t.Errorf("%s: %d exchanges, %d assigned tasks; want %d, %d", tr.Name, len(tr.Exchanges), len(tr.AssignedTasks()), w.exchanges, w.assigned)
		}
		for i, e := range tr.Exchanges {
			if e.Method == "" || e.Path == "" || e.Status == 0 {
				t.Errorf("%s[%d]: incomplete exchange %+v", tr.Name, i, e)
			}
		}
	}
}

func TestSubstituteKeepsJSONValid(t *testing.T) {
	tr, err := Get("03-simple-blender-render")
	if err != nil {
		t.Fatal(err)
	}
	raw := Substitute(tr.AssignedTasks()[0], `C:\farm "shared"`, "/tmp/x")
	var task struct {
		Commands []struct {
			Parameters struct {
				Blendfile string `json:"blendfile"`
			} `json:"parameters"`
		} `json:"commands"`
	}
	if err := json.Unmarshal(raw, &task); err != nil {
		t.Fatalf("substituted JSON: %v", err)
	}
	if got := task.Commands[0].Parameters.Blendfile; got != `C:\farm "shared"/tiny.blend` {
		t.Errorf("blendfile %q", got)
	}
}

func TestBinaryBytes(t *testing.T) {
	tr, err := Get("03-simple-blender-render")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range tr.Exchanges {
		if size, ok := e.BinaryBytes(); ok {
			n++
			if size <= 0 || e.RequestHeaders["Content-Type"] != "image/jpeg" {
				t.Errorf("%s: %d bytes of %q", e.Path, size, e.RequestHeaders["Content-Type"])
			}
		}
	}
	if n != 4 {
		t.Errorf("%d binary bodies, want the 4 previews", n)
	}
}
