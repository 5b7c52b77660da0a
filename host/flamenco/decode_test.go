package flamenco

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/internal/flamencotrace"
)

func readFixtures(tb testing.TB, dir string) map[string][]byte {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
	if err != nil || len(paths) == 0 {
		tb.Fatalf("no fixtures in testdata/%s: %v", dir, err)
	}
	out := map[string][]byte{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		out[filepath.Base(p)] = data
	}
	return out
}

func TestDecodeAssignedTaskFixtures(t *testing.T) {
	for name, data := range readFixtures(t, "assigned-task") {
		t.Run(name, func(t *testing.T) {
			task, err := decodeAssignedTask(data)
			if err != nil {
				t.Fatal(err)
			}
			// Every fixture must survive a round trip unchanged.
			again, err := decodeAssignedTask(mustMarshal(t, task))
			if err != nil || !reflect.DeepEqual(task, again) {
				t.Fatalf("round trip: %v\n%+v\n%+v", err, task, again)
			}
		})
	}
	task, err := decodeAssignedTask(readFixtures(t, "assigned-task")["blender-render.json"])
	if err != nil {
		t.Fatal(err)
	}
	c := task.Commands[0]
	if task.TaskType != "blender" || task.StepsTotal != 10 || c.Name != "blender-render" || c.TotalStepCount != 10 {
		t.Fatalf("decoded %+v", task)
	}
	if args := c.Parameters["args"].([]any); len(args) != 8 || args[7] != "1..10" {
		t.Fatalf("args %v", c.Parameters["args"])
	}
	sleep, err := decodeAssignedTask(readFixtures(t, "assigned-task")["echo-sleep.json"])
	if err != nil {
		t.Fatal(err)
	}
	if d := sleep.Commands[1].Parameters["duration_in_seconds"]; d != 2.5 {
		t.Fatalf("numbers decode as float64: got %T %v", d, d)
	}
	if d := sleep.Commands[2].Parameters["duration_in_seconds"]; d != 0.0 {
		t.Fatalf("integer numbers decode as float64 too: got %T %v", d, d)
	}
}

func TestDecodeAssignedTaskRejects(t *testing.T) {
	valid := map[string]any{}
	if err := json.Unmarshal(readFixtures(t, "assigned-task")["echo-sleep.json"], &valid); err != nil {
		t.Fatal(err)
	}
	// with returns the valid task with one change applied at a path.
	with := func(change func(task map[string]any)) string {
		var task map[string]any
		_ = json.Unmarshal(mustMarshal(t, valid), &task)
		change(task)
		return string(mustMarshal(t, task))
	}
	cmd := func(task map[string]any, i int) map[string]any {
		return task["commands"].([]any)[i].(map[string]any)
	}
	cases := []struct {
		name, body, wantErr string
	}{
		{"not JSON", `{"uuid": "x"`, "malformed JSON"},
		{"empty", ``, "want a JSON object, got nothing"},
		{"array", `[]`, "want a JSON object, got array"},
		{"null", `null`, "want a JSON object, got null"},
		{"trailing garbage", `{} {}`, "malformed JSON"},
		{"missing uuid", with(func(m map[string]any) { delete(m, "uuid") }), "field uuid: missing"},
		{"empty uuid", with(func(m map[string]any) { m["uuid"] = "" }), "field uuid: empty"},
		{"null job", with(func(m map[string]any) { m["job"] = nil }), "field job: want a JSON string, got null"},
		{"missing task_type", with(func(m map[string]any) { delete(m, "task_type") }), "field task_type: missing"},
		{"priority as string", with(func(m map[string]any) { m["priority"] = "50" }), "field priority: want a JSON number, got string"},
		{"fractional steps", with(func(m map[string]any) { m["steps_total"] = 2.5 }), "field steps_total: want an integer, got 2.5"},
		{"negative steps", with(func(m map[string]any) { m["steps_completed"] = -1 }), "field steps_completed: negative"},
		{"missing commands", with(func(m map[string]any) { delete(m, "commands") }), "field commands: missing"},
		{"commands object", with(func(m map[string]any) { m["commands"] = map[string]any{} }), "field commands: want a JSON array, got object"},
		{"command not an object", with(func(m map[string]any) { m["commands"] = []any{"echo"} }), "field commands[0]: want a JSON object, got string"},
		{"command without name", with(func(m map[string]any) { delete(cmd(m, 1), "name") }), "field commands[1].name: missing"},
		{"command null parameters", with(func(m map[string]any) { cmd(m, 2)["parameters"] = nil }), "field commands[2].parameters: want a JSON object, got null"},
		{"command list parameters", with(func(m map[string]any) { cmd(m, 0)["parameters"] = []any{} }), "field commands[0].parameters: want a JSON object, got array"},
		{"command without step count", with(func(m map[string]any) { delete(cmd(m, 0), "total_step_count") }), "field commands[0].total_step_count: missing"},
		{"number out of range", strings.Replace(with(func(map[string]any) {}), `"duration_in_seconds":2.5`, `"duration_in_seconds":1e999`, 1), "field commands[1].parameters"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeAssignedTask([]byte(tc.body))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q\nbody %s", err, tc.wantErr, tc.body)
			}
		})
	}
}

func TestDecodeMayKeepRunning(t *testing.T) {
	fixtures := readFixtures(t, "may-keep-running")
	cases := []struct {
		file string
		want MayKeepRunning
	}{
		{"yes.json", MayKeepRunning{MayKeepRunning: true}},
		{"canceled.json", MayKeepRunning{Reason: `task is in non-runnable status "canceled"`}},
		// The schema says statusChangeRequested implies no; the client makes it so.
		{"contradiction.json", MayKeepRunning{Reason: "worker status change requested", StatusChangeRequested: true}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			got, err := decodeMayKeepRunning(fixtures[tc.file])
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
	for _, bad := range []string{`{}`, `{"mayKeepRunning":"yes","reason":"","statusChangeRequested":false}`, `{"mayKeepRunning":true,"statusChangeRequested":false}`} {
		if _, err := decodeMayKeepRunning([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

func TestDecodeOtherAnswers(t *testing.T) {
	if _, err := decodeRegisteredWorker([]byte(`{"name":"w"}`)); err == nil || !strings.Contains(err.Error(), "uuid") {
		t.Errorf("register answer without uuid: %v", err)
	}
	w, err := decodeRegisteredWorker([]byte(`{"uuid":"u1","status":"offline","supported_task_types":["misc"],"address":null}`))
	if err != nil || w.UUID != "u1" || w.Status != WorkerOffline || len(w.SupportedTaskTypes) != 1 {
		t.Errorf("register answer: %+v %v", w, err)
	}
	if _, err := decodeRegisteredWorker([]byte(`{"uuid":"u1","supported_task_types":[1]}`)); err == nil || !strings.Contains(err.Error(), "supported_task_types[0]") {
		t.Errorf("bad task types: %v", err)
	}
	if _, err := decodeStateChange([]byte(`{"status":"awake"}`)); err == nil || !strings.Contains(err.Error(), "status_requested") {
		t.Errorf("state change with the wrong field: %v", err)
	}
	if s, err := decodeStateChange([]byte(`{"status_requested":"hibernate"}`)); err != nil || s.StatusRequested != "hibernate" {
		t.Errorf("unknown requested status must pass through: %+v %v", s, err)
	}
	if _, err := decodeVersion([]byte(`{"shortversion":"3.6"}`)); err == nil {
		t.Error("version answer without version accepted")
	}
}

func FuzzDecodeAssignedTask(f *testing.F) {
	for _, data := range readFixtures(f, "assigned-task") {
		f.Add(data)
	}
	f.Add([]byte(`{"uuid":"u","job":"j","name":"","status":"active","priority":0,"job_priority":0,"job_type":"","task_type":"misc","commands":[{"name":"x","parameters":{"a":[1,{"b":null}]},"total_step_count":0}],"steps_completed":0,"steps_total":0}`))
	f.Add([]byte(`{"commands":[{}]}`))
	// And every task a real Manager handed out in the recordings.
	traces, err := flamencotrace.All()
	if err != nil {
		f.Fatal(err)
	}
	for _, tr := range traces {
		for _, raw := range tr.AssignedTasks() {
			f.Add([]byte(raw))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		task, err := decodeAssignedTask(data)
		if err != nil {
			if _, ok := err.(*fieldError); !ok {
				t.Fatalf("error of type %T, want *fieldError: %v", err, err)
			}
			return
		}
		if task.UUID == "" || task.Job == "" || task.TaskType == "" || task.Commands == nil || task.StepsTotal < 0 {
			t.Fatalf("accepted an invalid task: %+v", task)
		}
		for _, c := range task.Commands {
			if c.Name == "" || c.Parameters == nil || c.TotalStepCount < 0 {
				t.Fatalf("accepted an invalid command: %+v", c)
			}
		}
		again, err := decodeAssignedTask(mustMarshal(t, task))
		if err != nil || !reflect.DeepEqual(task, again) {
			t.Fatalf("round trip changed the task: %v\n%+v\n%+v", err, task, again)
		}
	})
}

func FuzzDecodeMayKeepRunning(f *testing.F) {
	for _, data := range readFixtures(f, "may-keep-running") {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeMayKeepRunning(data)
		if err == nil && m.MayKeepRunning && m.StatusChangeRequested {
			t.Fatalf("may keep running while a status change is requested: %+v", m)
		}
	})
}

func mustMarshal(tb testing.TB, v any) []byte {
	tb.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// TestIDsNeedNotBeUUIDs: Flamenco 3.9 no longer declares task, job and
// worker ids as UUIDs, so any non-empty string is an id.
func TestIDsNeedNotBeUUIDs(t *testing.T) {
	for _, id := range []string{"42", "task-7", "job/3", "ünï"} {
		task, err := decodeAssignedTask([]byte(`{"uuid": ` + string(mustMarshal(t, id)) + `, "job": ` + string(mustMarshal(t, id)) +
			`, "name": "n", "status": "active", "priority": 50, "job_priority": 50, "job_type": "t", "task_type": "misc", "commands": [], "steps_completed": 0, "steps_total": 1}`))
		if err != nil || task.UUID != id || task.Job != id {
			t.Errorf("task id %q: %+v, %v", id, task, err)
		}
		w, err := decodeRegisteredWorker([]byte(`{"uuid": ` + string(mustMarshal(t, id)) + `}`))
		if err != nil || w.UUID != id {
			t.Errorf("worker id %q: %+v, %v", id, w, err)
		}
	}
	if got := taskPath("job/3 ä", "/may-i-run"); got != "/api/v3/worker/task/job%2F3%20%C3%A4/may-i-run" {
		t.Errorf("taskPath escapes to %q", got)
	}
}
