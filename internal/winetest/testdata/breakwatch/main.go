// Command breakwatch is a Windows command for the wine suite's graceful-stop
// test: it writes "started" to the file named by its first argument, waits,
// and on CTRL_BREAK (or Ctrl+C; Go's os.Interrupt) writes "interrupted" and
// exits 0. With "ignore" as its second argument it ignores both, so only
// the kill of its Job Object ends it.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: breakwatch FILE [ignore]")
		os.Exit(2)
	}
	file := os.Args[1]
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt)
	if err := os.WriteFile(file, []byte("started\n"), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ignore := len(os.Args) > 2 && os.Args[2] == "ignore"
	for {
		select {
		case <-sigs:
			if ignore {
				continue
			}
			if err := os.WriteFile(file, []byte("interrupted\n"), 0o644); err != nil {
				os.Exit(1)
			}
			os.Exit(0)
		case <-time.After(time.Hour):
			os.Exit(3)
		}
	}
}
