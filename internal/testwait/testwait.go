// Package testwait waits in tests for a condition to hold. Tests wait for a
// state, never for a fixed time: a pause that is long enough on an idle
// machine is too short on a loaded one. The limit on a wait only stops a
// hung test; it is not a speed check.
package testwait

import (
	"testing"
	"time"
)

// Limit is the bound of For: long enough for any state a test waits for
// on a loaded machine, short enough to stop a hung test.
const Limit = 30 * time.Second

// Polls start often, for states that come at once, and slow down, so that
// a long wait costs the machine little.
const (
	firstPause = 5 * time.Millisecond
	maxPause   = 100 * time.Millisecond
)

// For polls cond until it holds, failing tb when Limit passes first.
func For(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	Within(tb, what, Limit, cond)
}

// Within polls cond until it holds, failing tb when limit passes first.
func Within(tb testing.TB, what string, limit time.Duration, cond func() bool) {
	tb.Helper()
	if !Poll(limit, cond) {
		tb.Fatalf("waiting for %s: not reached within %s", what, limit)
	}
}

// Poll polls cond until it holds or limit passes, and reports whether it
// held: for a wait whose failure the caller reports.
func Poll(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	pause := firstPause
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pause)
		pause = min(2*pause, maxPause)
	}
	return true
}
