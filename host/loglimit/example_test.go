package loglimit_test

import (
	"fmt"

	"github.com/cajonfarm/cajon/host/loglimit"
)

func Example() {
	l := loglimit.New(100) // 20 bytes stream live, the last 80 are kept for the end
	for i := range 30 {
		for _, line := range l.Add([]string{fmt.Sprintf("line %02d", i)}) {
			fmt.Println("live:", line)
		}
		if l.Truncated() && i == 29 {
			fmt.Println("activity:", l.Last())
		}
	}
	for _, line := range l.Close("/var/lib/cajon/logs/task.log") {
		fmt.Println("at the end:", line)
	}
	// Output:
	// live: line 00
	// live: line 01
	// activity: line 29
	// at the end: [cajon: 144 bytes in 18 lines left out of this log; the full log is on the worker at /var/lib/cajon/logs/task.log]
	// at the end: line 20
	// at the end: line 21
	// at the end: line 22
	// at the end: line 23
	// at the end: line 24
	// at the end: line 25
	// at the end: line 26
	// at the end: line 27
	// at the end: line 28
	// at the end: line 29
}
