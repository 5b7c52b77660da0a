package sdk

import (
	"testing"

	pluginv1 "github.com/cajonfarm/cajon/sdk/proto/cajon/plugin/v1"
	"google.golang.org/protobuf/proto"
)

// sentEvents is an eventSender that keeps what it is sent.
type sentEvents []*pluginv1.RunEvent

func (s *sentEvents) Send(ev *pluginv1.RunEvent) error {
	*s = append(*s, ev)
	return nil
}

// TestProgressPresence: an activity-only update leaves the steps absent
// (unchanged), so a host never reads it as zero steps, and zero steps done
// is sent as a value. proto.Equal tells absent from zero.
func TestProgressPresence(t *testing.T) {
	cases := []struct {
		name   string
		report func(r *Run)
		want   *pluginv1.Progress
	}{
		{"activity only", func(r *Run) { r.Activity("frame 3") },
			&pluginv1.Progress{Activity: proto.String("frame 3")}},
		{"zero steps done", func(r *Run) { r.Progress(0, 10) },
			&pluginv1.Progress{StepsDone: proto.Int64(0), StepsTotal: proto.Int64(10)}},
		{"steps and activity merge", func(r *Run) { r.Progress(2, 10); r.Activity("frame 3"); r.Progress(3, 10) },
			&pluginv1.Progress{StepsDone: proto.Int64(3), StepsTotal: proto.Int64(10), Activity: proto.String("frame 3")}},
		{"an empty activity is no update", func(r *Run) { r.Activity(""); r.Progress(1, 0) },
			&pluginv1.Progress{StepsDone: proto.Int64(1), StepsTotal: proto.Int64(0)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var sent sentEvents
			out := newEmitter(&sent)
			tc.report(&Run{out: out})
			if err := out.finish(&pluginv1.Result{Status: pluginv1.Result_STATUS_COMPLETED}); err != nil {
				t.Fatal(err)
			}
			var progs []*pluginv1.Progress
			for _, ev := range sent {
				if p := ev.GetProgress(); p != nil {
					progs = append(progs, p)
				}
			}
			if len(progs) != 1 || !proto.Equal(progs[0], tc.want) {
				t.Errorf("sent progress %v, want [%v]", progs, tc.want)
			}
		})
	}
}
