package updates

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func steps(n int) *int { return &n }

// mergeAll splits us into requests the way the sender does.
func mergeAll(us []Update, maxLog int) []Update {
	var out []Update
	for len(us) > 0 {
		m := merger{maxLog: maxLog}
		n := 0
		for n < len(us) && m.add(us[n]) {
			n++
		}
		out = append(out, m.update())
		us = us[n:]
	}
	return out
}

func TestMerge(t *testing.T) {
	tests := []struct {
		name   string
		maxLog int
		in     []Update
		want   []Update
	}{
		{
			name: "one update goes as it is",
			in:   []Update{{TaskID: "a", Log: "no newline"}},
			want: []Update{{TaskID: "a", Log: "no newline"}},
		},
		{
			name: "logs are joined as the Manager appends them",
			in: []Update{
				{TaskID: "a", Log: "one"},
				{TaskID: "a", Log: "two\n"},
				{TaskID: "a", Log: ""},
				{TaskID: "a", Log: "three\nfour"},
			},
			want: []Update{{TaskID: "a", Log: "one\ntwo\nthree\nfour"}},
		},
		{
			name: "latest non-empty activity and highest step",
			in: []Update{
				{TaskID: "a", Activity: "frame 1", StepsCompleted: steps(1)},
				{TaskID: "a", Activity: "frame 3", StepsCompleted: steps(3)},
				{TaskID: "a", StepsCompleted: steps(2)},
				{TaskID: "a", Log: "x"},
			},
			want: []Update{{TaskID: "a", Activity: "frame 3", Log: "x", StepsCompleted: steps(3)}},
		},
		{
			name: "a status ends the request it is in",
			in: []Update{
				{TaskID: "a", Log: "1"},
				{TaskID: "a", Log: "2", Activity: "rendering"},
				{TaskID: "a", Status: "completed", Activity: "done"},
				{TaskID: "a", Log: "after"},
			},
			want: []Update{
				{TaskID: "a", Status: "completed", Activity: "done", Log: "1\n2"},
				{TaskID: "a", Log: "after"},
			},
		},
		{
			name: "a leading status goes alone, two statuses never share a request",
			in: []Update{
				{TaskID: "a", Status: "active"},
				{TaskID: "a", Log: "working"},
				{TaskID: "a", Status: "failed", Log: "boom"},
				{TaskID: "a", Status: "failed"},
			},
			want: []Update{
				{TaskID: "a", Status: "active"},
				{TaskID: "a", Status: "failed", Log: "working\nboom"},
				{TaskID: "a", Status: "failed"},
			},
		},
		{
			name: "other tasks' updates are not merged across",
			in: []Update{
				{TaskID: "a", Log: "a1"},
				{TaskID: "b", Log: "b1"},
				{TaskID: "b", Log: "b2"},
				{TaskID: "a", Log: "a2"},
			},
			want: []Update{
				{TaskID: "a", Log: "a1"},
				{TaskID: "b", Log: "b1\nb2"},
				{TaskID: "a", Log: "a2"},
			},
		},
		{
			name:   "the log cap splits requests",
			maxLog: 10,
			in: []Update{
				{TaskID: "a", Log: "1234"},
				{TaskID: "a", Log: "5678"},
				{TaskID: "a", Log: "9", Activity: "next request"},
				{TaskID: "a", Activity: "no log: still fits"},
			},
			want: []Update{
				{TaskID: "a", Log: "1234\n5678"},
				{TaskID: "a", Log: "9", Activity: "no log: still fits"},
			},
		},
		{
			name:   "one log over the cap goes alone",
			maxLog: 4,
			in: []Update{
				{TaskID: "a", Activity: "starting"},
				{TaskID: "a", Log: "much too long"},
				{TaskID: "a", Log: "x"},
			},
			want: []Update{
				{TaskID: "a", Activity: "starting", Log: "much too long"},
				{TaskID: "a", Log: "x"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			maxLog := tt.maxLog
			if maxLog == 0 {
				maxLog = DefaultMergeMaxLogBytes
			}
			got := mergeAll(tt.in, maxLog)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("merged\n %s\nwant\n %s", describe(got), describe(tt.want))
			}
			if a, b := managerView(tt.in), managerView(got); !reflect.DeepEqual(a, b) {
				t.Errorf("the Manager ends up with\n %s\nfrom the merged requests, but with\n %s\nfrom the updates one by one", viewText(b), viewText(a))
			}
		})
	}
}

// taskView is what the Manager keeps of a task: its log, latest activity,
// steps and every status it was given, in order.
type taskView struct {
	Log      string
	Activity string
	Steps    int
	Statuses []string
}

// managerView applies updates the way the Manager does.
func managerView(us []Update) map[string]*taskView {
	view := map[string]*taskView{}
	for _, u := range us {
		v := view[u.TaskID]
		if v == nil {
			v = &taskView{}
			view[u.TaskID] = v
		}
		if u.Log != "" {
			v.Log += u.Log
			if !strings.HasSuffix(u.Log, "\n") {
				v.Log += "\n"
			}
		}
		if u.Activity != "" {
			v.Activity = u.Activity
		}
		// Steps only grow within a task's run, and a merge keeps the highest,
		// so that is what counts here.
		if u.StepsCompleted != nil {
			v.Steps = max(v.Steps, *u.StepsCompleted)
		}
		if u.Status != "" {
			v.Statuses = append(v.Statuses, u.Status)
		}
	}
	return view
}

func describe(us []Update) string {
	var b strings.Builder
	for _, u := range us {
		s := "nil"
		if u.StepsCompleted != nil {
			s = stepsText(u.StepsCompleted)
		}
		b.WriteString("{" + u.TaskID + " status=" + u.Status + " activity=" + u.Activity + " log=" + strings.ReplaceAll(u.Log, "\n", `\n`) + " steps=" + s + "} ")
	}
	return b.String()
}

// viewText prints view in task order, so that two texts of one view are
// equal and a failure's two views can be compared line by line.
func viewText(view map[string]*taskView) string {
	var b strings.Builder
	for _, id := range slices.Sorted(maps.Keys(view)) {
		fmt.Fprintf(&b, "%s: %+v; ", id, *view[id])
	}
	return b.String()
}
