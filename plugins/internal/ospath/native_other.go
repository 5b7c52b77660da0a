//go:build !windows

package ospath

// Native is the syntax of the system the program runs on.
const Native = Unix
