package logstore_test

import (
	"fmt"
	"os"
	"time"

	"github.com/cajonfarm/cajon/host/logstore"
)

// A task runner keeps each task's whole log in the store while it runs, and
// reads the end of it for a status display.
func Example() {
	dir, _ := os.MkdirTemp("", "logstore-example-")
	defer os.RemoveAll(dir)

	store, err := logstore.Open(dir, logstore.Limits{MaxTotalBytes: 1 << 30, MaxAge: 30 * 24 * time.Hour})
	if err != nil {
		fmt.Println(err)
		return
	}
	log, err := store.Writer("job-7", "render-frames")
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = log.Append([]string{"Fra:1 Sample 1/16", "Fra:1 Sample 16/16", "Saved: frame-0001.png"})
	_ = log.Close() // prunes the store to its limits

	tail, _ := store.Tail("job-7", "render-frames", 2)
	fmt.Println(tail)
	// Output: [Fra:1 Sample 16/16 Saved: frame-0001.png]
}
