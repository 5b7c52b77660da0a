package updates_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cajonfarm/cajon/host/updates"
)

// printSender stands in for the worker's Flamenco client.
type printSender struct{}

func (printSender) SendTaskUpdate(ctx context.Context, u updates.Update) error {
	fmt.Printf("task %s: status %q, activity %q, log %q\n", u.TaskID, u.Status, u.Activity, u.Log)
	return nil
}

func Example() {
	dir, _ := os.MkdirTemp("", "cajon-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	q, err := updates.Open(ctx, updates.Options{Path: filepath.Join(dir, "updates.sqlite")})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer q.Close()

	// The task runner appends; the Manager is unreachable for a while.
	q.Append(ctx, updates.Update{TaskID: "t1", Status: "active", Activity: "starting"})
	q.Append(ctx, updates.Update{TaskID: "t1", Log: "Fra:1 rendered"})
	q.Append(ctx, updates.Update{TaskID: "t1", Log: "Fra:2 rendered", Activity: "frame 2"})
	q.Append(ctx, updates.Update{TaskID: "t1", Status: "completed", Activity: "done"})

	// Catching up: the updates between the two statuses go as one request.
	if err := q.Flush(ctx, printSender{}); err != nil {
		fmt.Println(err)
	}
	// Output:
	// task t1: status "active", activity "starting", log ""
	// task t1: status "completed", activity "done", log "Fra:1 rendered\nFra:2 rendered"
}
