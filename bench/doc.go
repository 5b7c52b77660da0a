// Package bench holds the benchmarks that measure Cajon as a whole: plugin
// start, per-command overhead and the log pipeline through real plugin
// binaries. `make bench` runs them together with the packages' own
// benchmarks and writes docs/BENCHMARKS.md (see bench/report).
package bench
