// Package flamencotrace reads the recorded exchanges between a real Flamenco
// Manager and its stock worker (testdata/<version>/*.jsonl, described by the
// README.md beside them), for tests that hold Cajon and the fake Manager to
// what the real Manager does rather than to our picture of it.
//
// The recordings are facts about the Manager's behaviour, kept as test data;
// they are embedded so that any test package can read them from anywhere.
package flamencotrace

import (
	"bufio"
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// ManagerVersion is the Flamenco version the exchanges were recorded with
// (Manager and worker 3.8.5, commit 690bf6ce).
const ManagerVersion = "3.8.5"

// Placeholders the recording put in place of machine-specific text.
const (
	Shared = "@SHARED@" // the Manager's shared storage folder
	Tmp    = "@TMP@"    // the recording's scratch folder
	Secret = "@SECRET@" // the worker's generated secret
)

//go:embed testdata/3.8.5/*.jsonl
var recorded embed.FS

// Exchange is one request and the Manager's answer to it.
type Exchange struct {
	Time           float64           `json:"t"` // Unix time
	Method         string            `json:"method"`
	Path           string            `json:"path"`
	RequestHeaders map[string]string `json:"request_headers"` // credentials left out
	// Request is the JSON body, a JSON string for a text body, or
	// {"binary_bytes": N} for an image; null when there was none.
	Request       json.RawMessage   `json:"request"`
	Status        int               `json:"status"`
	AnswerHeaders map[string]string `json:"answer_headers"`
	Answer        json.RawMessage   `json:"answer"` // null when there was no body
}

// Trace is one recorded session, e.g. "03-simple-blender-render".
type Trace struct {
	Name      string
	Exchanges []Exchange
}

// All reads every recorded session, in the order of their names.
func All() ([]Trace, error) {
	names, err := fs.Glob(recorded, "testdata/"+ManagerVersion+"/*.jsonl")
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	traces := make([]Trace, 0, len(names))
	for _, name := range names {
		t, err := load(name)
		if err != nil {
			return nil, err
		}
		traces = append(traces, t)
	}
	return traces, nil
}

// Get reads one recorded session by name ("03-simple-blender-render").
func Get(name string) (Trace, error) {
	return load("testdata/" + ManagerVersion + "/" + name + ".jsonl")
}

func load(file string) (Trace, error) {
	data, err := recorded.ReadFile(file)
	if err != nil {
		return Trace{}, fmt.Errorf("flamencotrace: %w", err)
	}
	t := Trace{Name: strings.TrimSuffix(path.Base(file), ".jsonl")}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var e Exchange
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return Trace{}, fmt.Errorf("flamencotrace: %s line %d: %w", file, n, err)
		}
		t.Exchanges = append(t.Exchanges, e)
	}
	if err := sc.Err(); err != nil {
		return Trace{}, fmt.Errorf("flamencotrace: %s: %w", file, err)
	}
	return t, nil
}

// AssignedTasks are the Manager's answers that hand the worker a task
// (POST /api/v3/worker/task answered 200), as raw JSON, in order.
func (t Trace) AssignedTasks() []json.RawMessage {
	var out []json.RawMessage
	for _, e := range t.Exchanges {
		if e.Method == "POST" && e.Path == "/api/v3/worker/task" && e.Status == 200 {
			out = append(out, e.Answer)
		}
	}
	return out
}

// BinaryBytes is the size of a binary request body ({"binary_bytes": N}).
func (e Exchange) BinaryBytes() (int, bool) {
	var b struct {
		N *int `json:"binary_bytes"`
	}
	if json.Unmarshal(e.Request, &b) != nil || b.N == nil {
		return 0, false
	}
	return *b.N, true
}

// HasBody reports whether the request had a body.
func (e Exchange) HasBody() bool {
	return len(e.Request) > 0 && string(e.Request) != "null"
}

// Substitute replaces the Shared and Tmp placeholders in raw JSON with real
// folders, escaped as JSON string content (a Windows path's backslashes
// included), so the result is valid JSON again.
func Substitute(raw json.RawMessage, shared, tmp string) json.RawMessage {
	return json.RawMessage(strings.NewReplacer(Shared, jsonText(shared), Tmp, jsonText(tmp)).Replace(string(raw)))
}

// jsonText is s escaped as the inside of a JSON string.
func jsonText(s string) string {
	quoted, _ := json.Marshal(s) // a string always marshals
	return string(quoted[1 : len(quoted)-1])
}
