package local

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MinEvery is the shortest interval a recurring job may have.
const MinEvery = time.Second

// ParseAt reads the time of `--at`: an RFC 3339 time
// ("2026-11-23T01:00:00+01:00", or "2026-11-23T01:00:00Z"), the same without
// an offset or with a space for the T (local time, as the clock on the wall
// says), or a time relative to now: "+" and a duration ("+2h", "+90s",
// "+1d12h"). A time in the past is refused: a mistyped date would otherwise
// start the job at once.
func ParseAt(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, errors.New(`empty time: give an RFC 3339 time like 2026-11-23T01:00:00+01:00, or a delay like +2h`)
	}
	if rest, ok := strings.CutPrefix(s, "+"); ok {
		d, err := ParseDuration(rest)
		if err != nil {
			return time.Time{}, fmt.Errorf("relative time %q: %w", s, err)
		}
		if d < 0 {
			return time.Time{}, fmt.Errorf("relative time %q is negative", s)
		}
		return now.Add(d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		var perr error
		t, perr = parseLocal(s, now.Location())
		if perr != nil {
			return time.Time{}, fmt.Errorf(`time %q is neither RFC 3339 (2026-11-23T01:00:00+01:00) nor local (2026-11-23 01:00) nor relative (+2h)`, s)
		}
	}
	if t.Before(now.Add(-time.Second)) {
		return time.Time{}, fmt.Errorf("time %s is in the past (it is %s now)", t.Format(time.RFC3339), now.Format(time.RFC3339))
	}
	return t, nil
}

// localLayouts are the accepted times without an offset.
var localLayouts = []string{
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
}

func parseLocal(s string, loc *time.Location) (time.Time, error) {
	for _, layout := range localLayouts {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errors.New("no layout matched")
}

// ParseEvery reads the interval of `--every`: a duration like "90s", "2h",
// "1h30m" or "1d" (24 h), at least MinEvery.
func ParseEvery(s string) (time.Duration, error) {
	d, err := ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("interval %q: %w", s, err)
	}
	if d < MinEvery {
		return 0, fmt.Errorf("interval %q is shorter than %s", s, MinEvery)
	}
	return d, nil
}

// ParseDuration is time.ParseDuration plus a leading number of days ("1d",
// "2d12h"), since intervals of days are common for recurring jobs.
func ParseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, errors.New(`empty duration: write it like "90s", "2h", "1h30m" or "1d"`)
	}
	orig := s
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 || n > 100000 {
			return 0, fmt.Errorf(`invalid duration %q (write it like "90s", "2h", "1h30m" or "1d")`, orig)
		}
		days = time.Duration(n) * 24 * time.Hour
		s = s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || (days > 0 && d < 0) {
		return 0, fmt.Errorf(`invalid duration %q (write it like "90s", "2h", "1h30m" or "1d")`, orig)
	}
	return days + d, nil
}

// nextDue is when a recurring job runs next after the run that was due at
// due ended at now: one interval after its due time, but never in the past,
// so a late run does not make runs pile up and a run is never early.
func nextDue(due time.Time, every time.Duration, now time.Time) time.Time {
	next := due.Add(every)
	if next.Before(now) {
		return now
	}
	return next
}
