package wire

import (
	"fmt"
	"reflect"
	"testing"

	pluginv1 "github.com/cajonfarm/cajon/sdk/proto/cajon/plugin/v1"
)

// recorder keeps every event it receives, rendered, in order.
type recorder struct{ got []string }

func (r *recorder) Log(lines []string)   { r.got = append(r.got, fmt.Sprintf("log %q", lines)) }
func (r *recorder) Progress(p Progress)  { r.got = append(r.got, fmt.Sprintf("progress %+v", p)) }
func (r *recorder) Output(o Output)      { r.got = append(r.got, fmt.Sprintf("output %+v", o)) }
func (r *recorder) Child(c ChildProcess) { r.got = append(r.got, fmt.Sprintf("child %+v", c)) }

func TestDeliver(t *testing.T) {
	n := func(v int64) *int64 { return &v }
	s := func(v string) *string { return &v }
	progress := func(p *pluginv1.Progress) *pluginv1.RunEvent {
		return &pluginv1.RunEvent{Event: &pluginv1.RunEvent_Progress{Progress: p}}
	}
	result := func(st pluginv1.Result_Status, msg string) *pluginv1.RunEvent {
		return &pluginv1.RunEvent{Event: &pluginv1.RunEvent_Result{Result: &pluginv1.Result{Status: st, Message: msg}}}
	}
	cases := []struct {
		name   string
		ev     *pluginv1.RunEvent
		events string // what the receiver got
		final  bool
		res    Result
	}{
		{"log lines", &pluginv1.RunEvent{Event: &pluginv1.RunEvent_Log{Log: &pluginv1.LogLines{Lines: []string{"a", "b"}}}},
			`[log ["a" "b"]]`, false, Result{}},
		{"activity only: steps absent", progress(&pluginv1.Progress{Activity: s("reading")}),
			"[progress {HasSteps:false StepsDone:0 StepsTotal:0 Activity:reading}]", false, Result{}},
		{"an old SDK's activity-only -1 is no steps", progress(&pluginv1.Progress{StepsDone: n(-1), StepsTotal: n(0), Activity: s("x")}),
			"[progress {HasSteps:false StepsDone:0 StepsTotal:0 Activity:x}]", false, Result{}},
		{"zero done is progress, not unchanged", progress(&pluginv1.Progress{StepsDone: n(0), StepsTotal: n(10)}),
			"[progress {HasSteps:true StepsDone:0 StepsTotal:10 Activity:}]", false, Result{}},
		{"no total", progress(&pluginv1.Progress{StepsDone: n(3)}),
			"[progress {HasSteps:true StepsDone:3 StepsTotal:0 Activity:}]", false, Result{}},
		{"a negative total is no total", progress(&pluginv1.Progress{StepsDone: n(3), StepsTotal: n(-5)}),
			"[progress {HasSteps:true StepsDone:3 StepsTotal:0 Activity:}]", false, Result{}},
		{"a total without done leaves the steps unchanged", progress(&pluginv1.Progress{StepsTotal: n(7)}),
			"[progress {HasSteps:false StepsDone:0 StepsTotal:0 Activity:}]", false, Result{}},
		{"output", &pluginv1.RunEvent{Event: &pluginv1.RunEvent_Output{Output: &pluginv1.Output{Path: "/r/0001.png", MimeType: "image/png"}}},
			"[output {Path:/r/0001.png MIMEType:image/png}]", false, Result{}},
		{"child started", &pluginv1.RunEvent{Event: &pluginv1.RunEvent_Child{Child: &pluginv1.ChildProcess{Pid: 42}}},
			"[child {PID:42 Exited:false ExitCode:0}]", false, Result{}},
		{"child ended", &pluginv1.RunEvent{Event: &pluginv1.RunEvent_Child{Child: &pluginv1.ChildProcess{Pid: 42, Exited: true, ExitCode: 3}}},
			"[child {PID:42 Exited:true ExitCode:3}]", false, Result{}},
		{"an empty event is skipped", &pluginv1.RunEvent{}, "[]", false, Result{}},
		{"completed", result(pluginv1.Result_STATUS_COMPLETED, ""), "[]", true, Result{Status: Completed}},
		{"a plain abort", result(pluginv1.Result_STATUS_CANCELED, ""), "[]", true, Result{Status: Canceled}},
		{"an abort that went wrong says why", result(pluginv1.Result_STATUS_CANCELED, "could not stop blender"), "[]", true,
			Result{Status: Canceled, Message: "could not stop blender"}},
		{"failed", result(pluginv1.Result_STATUS_FAILED, "disk on fire"), "[]", true, Result{Status: Failed, Message: "disk on fire"}},
		{"failed without a message gets one", result(pluginv1.Result_STATUS_FAILED, ""), "[]", true,
			Result{Status: Failed, Message: "failed without a message"}},
		{"no status is not success", result(pluginv1.Result_STATUS_UNSPECIFIED, ""), "[]", true,
			Result{Status: Failed, Message: "failed without a message"}},
		{"a status added after this version is not success", result(pluginv1.Result_Status(99), "new"), "[]", true,
			Result{Status: Failed, Message: "new"}},
		{"warnings come with the result, bounded", &pluginv1.RunEvent{Event: &pluginv1.RunEvent_Result{Result: &pluginv1.Result{
			Status: pluginv1.Result_STATUS_COMPLETED, Warnings: []string{"missing texture\nmore", ""}}}}, "[]", true,
			Result{Status: Completed, Warnings: []string{"missing texture ..."}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var rec recorder
			res, final := Deliver(tc.ev, &rec)
			if got := fmt.Sprint(rec.got); got != tc.events {
				t.Errorf("received %s, want %s", got, tc.events)
			}
			if final != tc.final || !reflect.DeepEqual(res, tc.res) {
				t.Errorf("Deliver = %+v, %v; want %+v, %v", res, final, tc.res, tc.final)
			}
			// Without a receiver, events are dropped and results still come.
			res, final = Deliver(tc.ev, nil)
			if final != tc.final || !reflect.DeepEqual(res, tc.res) {
				t.Errorf("without a receiver: Deliver = %+v, %v; want %+v, %v", res, final, tc.res, tc.final)
			}
		})
	}
}

// lastLines keeps the last batch it was given.
type lastLines struct{ lines []string }

func (l *lastLines) Log(lines []string) { l.lines = lines }
func (l *lastLines) Progress(Progress)  {}
func (l *lastLines) Output(Output)      {}
func (l *lastLines) Child(ChildProcess) {}

// Log lines are the volume of a run: a batch goes through as the message's
// own slice, without a copy or an allocation.
func TestDeliverLogLinesWithoutCopy(t *testing.T) {
	lines := make([]string, 1000)
	for i := range lines {
		lines[i] = fmt.Sprint("line ", i)
	}
	ev := &pluginv1.RunEvent{Event: &pluginv1.RunEvent_Log{Log: &pluginv1.LogLines{Lines: lines}}}
	var got lastLines
	allocs := testing.AllocsPerRun(100, func() { Deliver(ev, &got) })
	if allocs != 0 {
		t.Errorf("delivering a batch of %d lines allocated %v times, want 0", len(lines), allocs)
	}
	if reflect.ValueOf(got.lines).UnsafePointer() != reflect.ValueOf(lines).UnsafePointer() || len(got.lines) != len(lines) {
		t.Error("the batch was copied")
	}
}

func TestStatusString(t *testing.T) {
	for st, want := range map[Status]string{Completed: "completed", Failed: "failed", Canceled: "canceled"} {
		if st.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(st), st.String(), want)
		}
	}
}

func BenchmarkDeliverLogBatch(b *testing.B) {
	lines := make([]string, 1000)
	ev := &pluginv1.RunEvent{Event: &pluginv1.RunEvent_Log{Log: &pluginv1.LogLines{Lines: lines}}}
	var got lastLines
	b.ReportAllocs()
	for b.Loop() {
		Deliver(ev, &got)
	}
}
