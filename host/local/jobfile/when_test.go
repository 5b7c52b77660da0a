package jobfile

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
		// The store's times end in 2262: a time past it must not wrap around.
		{"2300-01-01T00:00:00Z", time.Time{}, "time 2300-01-01T00:00:00Z is too far ahead: at most 36500d (100 years) from now (2126-10-29T18:30:00+01:00)"},
		{"+36500d", now.Add(MaxDuration), ""},
		{"+36500d1s", time.Time{}, `relative time "+36500d1s": duration "36500d1s" is out of range: the longest is 36500d (100 years)`},
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
		{"36500d", MaxDuration, ""},
		{"36499d24h", MaxDuration, ""},
		{"500ms", 0, `interval "500ms" is out of range: use 1s to 36500d (100 years)`},
		{"0s", 0, `interval "0s" is out of range: use 1s to 36500d (100 years)`},
		{"-1h", 0, `interval "-1h" is out of range: use 1s to 36500d (100 years)`},
		// One range for days and hours alike, whatever overflows.
		{"36500d1s", 0, `interval "36500d1s": duration "36500d1s" is out of range: the longest is 36500d (100 years)`},
		{"100000d", 0, `interval "100000d": duration "100000d" is out of range: the longest is 36500d (100 years)`},
		{"106751d", 0, `interval "106751d": duration "106751d" is out of range: the longest is 36500d (100 years)`},
		{"2562047h", 0, `interval "2562047h": duration "2562047h" is out of range: the longest is 36500d (100 years)`},
		{"100000d200000h", 0, `interval "100000d200000h": duration "100000d200000h" is out of range: the longest is 36500d (100 years)`},
		{"9999999999h", 0, `interval "9999999999h": duration "9999999999h" is out of range: the longest is 36500d (100 years)`},
		{"99999999999999999999999d", 0, "is out of range"},
		{"", 0, "empty duration"},
		{"hourly", 0, "invalid duration"},
		{"1d-1h", 0, "invalid duration"},
		{"5", 0, "invalid duration"},
		{"1x5h", 0, "invalid duration"},
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
	// Only a store from before the range was checked holds an interval
	// beyond it: the next run is far ahead, never wrapped to the past.
	tests = append(tests, struct {
		name  string
		every time.Duration
		now   time.Time
		want  time.Time
	}{"interval past the range", 100000 * 24 * time.Hour, due.Add(time.Minute), due.Add(time.Minute + MaxDuration)})
	for _, tt := range tests {
		if got := NextDue(due, tt.every, tt.now); !got.Equal(tt.want) {
			t.Errorf("%s: NextDue = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{36 * time.Hour, "1d12h"},
		{720 * time.Hour, "30d"},
		{2 * time.Hour, "2h"},
		{90 * time.Minute, "1h30m"},
		{90 * time.Second, "1m30s"},
		{10 * time.Second, "10s"},
		{500 * time.Millisecond, "500ms"},
		{MaxDuration, "36500d"},
	}
	for _, tt := range tests {
		got := FormatDuration(tt.in)
		if got != tt.want {
			t.Errorf("FormatDuration(%v) = %q, want %q", tt.in, got, tt.want)
		}
		if back, err := ParseDuration(got); err != nil || back != tt.in {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", got, back, err, tt.in)
		}
	}
	if want := FormatDuration(MaxDuration) + " (100 years)"; rangeText != want {
		t.Errorf("rangeText = %q, want %q", rangeText, want)
	}
}
