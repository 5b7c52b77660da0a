//go:build !unix

// Command cajon-plugin-foreign is a test fixture for Unix only.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "cajon-plugin-foreign is a Unix-only test fixture")
	os.Exit(1)
}
