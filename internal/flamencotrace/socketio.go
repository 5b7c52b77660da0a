package flamencotrace

import (
	"bufio"
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"path"
	"strings"
)

// The Manager's socket.io exchanges (testdata/3.8.5-socketio/*.jsonl,
// described by the README.md beside them), kept apart from the worker API
// exchanges because a line is a websocket frame, not a request.
//
//go:embed testdata/3.8.5-socketio/*.jsonl
var recordedSocketIO embed.FS

// Frame is one websocket text frame of a socket.io exchange.
type Frame struct {
	Time float64 `json:"t"` // seconds since the connection opened
	// Dir is "recv" for a frame from the Manager, "send" for one to it.
	Dir string `json:"dir"`
	// Text is the frame as sent, e.g. `42["/jobs",{...}]`.
	Text string `json:"frame"`
	// Note says what the recording did just before this frame, if anything
	// ("submitted the job", "cancel requested").
	Note string `json:"note,omitempty"`
}

// SocketIO reads one recorded socket.io exchange by name ("echo-sleep-cancel").
func SocketIO(name string) ([]Frame, error) {
	file := "testdata/" + ManagerVersion + "-socketio/" + name + ".jsonl"
	data, err := recordedSocketIO.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("flamencotrace: %w", err)
	}
	var frames []Frame
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var f Frame
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			return nil, fmt.Errorf("flamencotrace: %s line %d: %w", path.Base(file), n, err)
		}
		if f.Dir != "recv" && f.Dir != "send" {
			return nil, fmt.Errorf("flamencotrace: %s line %d: dir %q is neither recv nor send", path.Base(file), n, f.Dir)
		}
		frames = append(frames, f)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("flamencotrace: %s: %w", file, err)
	}
	return frames, nil
}

// Received are the frames from the Manager whose text starts with prefix.
func Received(frames []Frame, prefix string) []Frame {
	var out []Frame
	for _, f := range frames {
		if f.Dir == "recv" && strings.HasPrefix(f.Text, prefix) {
			out = append(out, f)
		}
	}
	return out
}
