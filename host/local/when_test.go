package local

import (
	"strings"
	"testing"
	"time"
)

func TestParseAt(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	now := time.Date(2026, 11, 22, 18, 30, 0, 0, paris)
	tests := []struct {
		in      string
		want    time.Time
		wantErr string
	}{
		{"2026-11-23T01:00:00+01:00", time.Date(2026, 11, 23, 1, 0, 0, 0, paris), ""},
		{"2026-11-23T00:00:00Z", time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC), ""},
		{"2026-11-23T01:00:00.5+01:00", time.Date(2026, 11, 23, 1, 0, 0, 5e8, paris), ""},
		{"2026-11-23 01:00", time.Date(2026, 11, 23, 1, 0, 0, 0, paris), ""},
		{"2026-11-23T01:00:30", time.Date(2026, 11, 23, 1, 0, 30, 0, paris), ""},
		{" +2h ", now.Add(2 * time.Hour), ""},
		{"+90s", now.Add(90 * time.Second), ""},
		{"+1h30m", now.Add(90 * time.Minute), ""},
		{"+1d", now.Add(24 * time.Hour), ""},
		{"+1d12h", now.Add(36 * time.Hour), ""},
		{"+0s", now, ""},
		{"", time.Time{}, "empty time"},
		{"+", time.Time{}, "empty duration"},
		{"+-5m", time.Time{}, "negative"},
		{"+2 hours", time.Time{}, "invalid duration"},
		{"+xd", time.Time{}, "invalid duration"},
		{"tomorrow", time.Time{}, "neither RFC 3339"},
		{"2026-13-01T00:00:00Z", time.Time{}, "neither RFC 3339"},
		{"2026-11-22T18:00:00+01:00", time.Time{}, "in the past"},
		{"2020-01-01 00:00", time.Time{}, "in the past"},
	}
	for _, tt := range tests {
		got, err := ParseAt(tt.in, now)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseAt(%q) = %v, %v; want an error with %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("ParseAt(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseEvery(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{"90s", 90 * time.Second, ""},
		{"2h", 2 * time.Hour, ""},
		{"1h30m", 90 * time.Minute, ""},
		{"1d", 24 * time.Hour, ""},
		{"7d", 7 * 24 * time.Hour, ""},
		{"1d6h", 30 * time.Hour, ""},
		{"1s", time.Second, ""},
		{"500ms", 0, "shorter than 1s"},
		{"0s", 0, "shorter than 1s"},
		{"-1h", 0, "shorter than 1s"},
		{"", 0, "empty duration"},
		{"hourly", 0, "invalid duration"},
		{"1d-1h", 0, "invalid duration"},
		{"5", 0, "invalid duration"},
	}
	for _, tt := range tests {
		got, err := ParseEvery(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseEvery(%q) = %v, %v; want an error with %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseEvery(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestNextDue(t *testing.T) {
	due := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		every time.Duration
		now   time.Time
		want  time.Time
	}{
		{"run ended early: one interval after the due time", time.Hour, due.Add(10 * time.Minute), due.Add(time.Hour)},
		{"run ended late: now, not in the past", time.Hour, due.Add(3 * time.Hour), due.Add(3 * time.Hour)},
		{"exactly at the next due time", time.Hour, due.Add(time.Hour), due.Add(time.Hour)},
	}
	for _, tt := range tests {
		if got := nextDue(due, tt.every, tt.now); !got.Equal(tt.want) {
			t.Errorf("%s: nextDue = %v, want %v", tt.name, got, tt.want)
		}
	}
}
