package updates

import (
	"reflect"
	"strings"
	"testing"
)

func TestSplitLog(t *testing.T) {
	status := Update{TaskID: "t", Status: "completed", Activity: "done", StepsCompleted: steps(3)}
	withLog := func(log string) Update { u := status; u.Log = log; return u }
	tests := []struct {
		name string
		max  int
		log  string
		want []string // the logs of the pieces; the last one carries the status
	}{
		{"no cap", 0, strings.Repeat("x", 100), []string{strings.Repeat("x", 100)}},
		{"short enough", 10, "0123456789", []string{"0123456789"}},
		{"cut after the last newline in reach", 10, "abc\ndef\nghij\nk", []string{"abc\ndef\n", "ghij\nk"}},
		{"a line longer than a piece is cut", 4, "abcdefghij", []string{"abcd", "efgh", "ij"}},
		{"never inside a rune", 4, "aé€xy", []string{"aé", "€x", "y"}},
		{"a trailing newline stays", 4, "abc\nd\n", []string{"abc\n", "d\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := splitLog(withLog(tt.log), tt.max)
			var logs []string
			for i, p := range got {
				logs = append(logs, p.Log)
				if tt.max > 0 && len(p.Log) > tt.max {
					t.Errorf("piece %d has %d bytes of log, over %d", i, len(p.Log), tt.max)
				}
				last := i == len(got)-1
				if rest := (Update{TaskID: p.TaskID, Log: p.Log}); !last && !reflect.DeepEqual(p, rest) {
					t.Errorf("piece %d carries more than log: %+v", i, p)
				}
				if last && (p.Status != status.Status || p.Activity != status.Activity || p.StepsCompleted != status.StepsCompleted) {
					t.Errorf("the last piece does not carry the status, activity and steps: %+v", p)
				}
			}
			if !reflect.DeepEqual(logs, tt.want) {
				t.Errorf("pieces %q, want %q", logs, tt.want)
			}
			// Line cuts join back exactly; only a line longer than a piece
			// gains line breaks.
			if !strings.Contains(tt.name, "longer") && !strings.Contains(tt.name, "rune") {
				if got, want := managerView(got)["t"].Log, managerView([]Update{withLog(tt.log)})["t"].Log; got != want {
					t.Errorf("the Manager's log from the pieces is %q, want %q", got, want)
				}
			}
		})
	}
}
