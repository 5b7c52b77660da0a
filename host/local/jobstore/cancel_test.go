package jobstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/local/jobfile"
)

// TestWaitAborted: after Cancel, WaitAborted returns once the canceled job's
// running task has ended, and otherwise says why it stopped waiting.
func TestWaitAborted(t *testing.T) {
	tests := []struct {
		name string
		// ended records the task's end before the wait; released drops the
		// runner lock (the runner is gone); stopped ends the wait's ctx.
		ended, released, stopped bool
		grace                    time.Duration
		want                     string // "" for nil
		wantErr                  error
	}{
		{name: "aborted", ended: true, grace: time.Second},
		{name: "runner gone", released: true, grace: time.Second,
			want: "stopped before it had aborted its tasks: the next 'cajon local run' marks them canceled"},
		{name: "ctx ends", stopped: true, grace: time.Second, wantErr: ErrStillAborting},
		// No time left at all: the wait gives up before it looks.
		{name: "not aborted in time", grace: -AbortSlack,
			want: fmt.Sprintf("its running tasks were not aborted within 0s; is cajon local run (pid %d) stuck?", os.Getpid())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s, err := Open(ctx, filepath.Join(t.TempDir(), DBFile))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			job, err := jobfile.ParseJob(ctx, "w.toml", []byte("name = \"w\"\n[[tasks]]\nname = \"t\"\n[[tasks.commands]]\nname = \"echo\"\nparameters = { message = \"hi\" }\n"))
			if err != nil {
				t.Fatal(err)
			}
			id, err := s.Submit(ctx, job, Submission{})
			if err != nil {
				t.Fatal(err)
			}
			release, err := s.LockRunner()
			if err != nil {
				t.Fatal(err)
			}
			defer release()
			claims, err := s.ClaimTasks(ctx, 1, time.Now(), func(int64, string, int) (string, error) { return "", nil })
			if err != nil || len(claims) != 1 {
				t.Fatalf("claim: %v, %d tasks", err, len(claims))
			}
			res, err := s.Cancel(ctx, id)
			if err != nil || len(res.Aborting) != 1 || res.RunnerPid != os.Getpid() {
				t.Fatalf("cancel: %+v, %v; want the task aborting by this process", res, err)
			}
			if tt.ended {
				if _, err := s.FinishTask(ctx, claims[0], Ending{Status: TaskCanceled, Message: "aborted: the job was canceled", At: time.Now()}); err != nil {
					t.Fatal(err)
				}
			}
			if tt.released {
				release()
			}
			wctx, stop := context.WithCancel(ctx)
			defer stop()
			if tt.stopped {
				stop()
			}
			err = s.WaitAborted(wctx, id, res, tt.grace)
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("WaitAborted = %v, want %v", err, tt.wantErr)
				}
			case tt.want == "":
				if err != nil {
					t.Errorf("WaitAborted = %v, want nil", err)
				}
			case err == nil || !strings.Contains(err.Error(), tt.want):
				t.Errorf("WaitAborted = %v, want it to say %q", err, tt.want)
			}
		})
	}
}
