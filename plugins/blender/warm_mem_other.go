//go:build !linux

package main

// residentMemory is not measured here: warm_max_rss applies on Linux only.
func residentMemory(int) int64 { return 0 }

// totalMemory is unknown here, so a warm_max_rss in percent is no limit.
func totalMemory() int64 { return 0 }
