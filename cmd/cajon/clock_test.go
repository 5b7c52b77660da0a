package main

import (
	"testing"
	"time"
)

// TestClock: times of today show the time of day, others the date too.
func TestClock(t *testing.T) {
	now := time.Date(2026, 11, 22, 18, 30, 0, 0, time.Local)
	tests := []struct {
		t    time.Time
		want string
	}{
		{now.Add(-time.Hour), "17:30:00"},
		{time.Date(2026, 11, 22, 0, 0, 1, 0, time.Local), "00:00:01"},
		{time.Date(2026, 11, 21, 23, 59, 0, 0, time.Local), "2026-11-21 23:59"},
		{now.Add(48 * time.Hour), "2026-11-24 18:30"},
		{time.Date(2025, 11, 22, 18, 30, 0, 0, time.Local), "2025-11-22 18:30"},
	}
	for _, tt := range tests {
		if got := clock(tt.t, now); got != tt.want {
			t.Errorf("clock(%v) = %q, want %q", tt.t, got, tt.want)
		}
	}
}
