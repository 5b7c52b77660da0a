// Package wine runs the Windows build of Cajon under wine on Linux, for the
// Windows test lane (make test-windows; docs/PLATFORMS.md says what the lane
// checks and what wine cannot tell). It finds wine, prepares a wine prefix in
// which Go programs start, builds the Windows binaries, runs them, and lists
// the Windows processes that one test started.
//
// Wine is not Windows: a test built on this package relies only on what wine
// does as Windows does (processes, pipes and inherited handles, Job Objects,
// Ctrl+C, files on drive-letter paths), and checks what it can from Linux,
// where every Windows process of the prefix is a Linux process.
//
// It runs on Linux (other Unix systems build it; Processes needs /proc).
package wine
