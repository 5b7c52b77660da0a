package jobfile

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The range of durations (--every, --at +D, --older-than) and of times
// (--at): the store keeps times as Unix nanoseconds, which end in 2262, so
// anything further could wrap around to the past and run at once.
const (
	// MinEvery is the shortest interval a recurring job may have.
	MinEvery = time.Second
	// MaxDuration is the longest duration, and how far ahead --at may be.
	MaxDuration = 36500 * day
)

const day = 24 * time.Hour

// rangeText says what MaxDuration is, for messages.
const rangeText = "36500d (100 years)"

// wellFormed matches what time.ParseDuration reads; when it still refuses
// such a duration, the duration overflows its 292 years.
var wellFormed = regexp.MustCompile(`^[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|ms|s|m|h)(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|ms|s|m|h))*$`)

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
	if latest := now.Add(MaxDuration); t.After(latest) {
		return time.Time{}, fmt.Errorf("time %s is too far ahead: at most %s from now (%s)", t.Format(time.RFC3339), rangeText, latest.Format(time.RFC3339))
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
// "1h30m" or "1d" (24 h), from MinEvery to MaxDuration.
func ParseEvery(s string) (time.Duration, error) {
	d, err := ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("interval %q: %w", s, err)
	}
	if d < MinEvery {
		return 0, fmt.Errorf("interval %q is out of range: use %s to %s", s, MinEvery, rangeText)
	}
	return d, nil
}

// ParseDuration is time.ParseDuration plus a leading number of days ("1d",
// "2d12h"), since intervals of days are common for recurring jobs. A
// duration longer than MaxDuration is refused.
func ParseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, errors.New(`empty duration: write it like "90s", "2h", "1h30m" or "1d"`)
	}
	invalid := fmt.Errorf(`invalid duration %q (write it like "90s", "2h", "1h30m" or "1d")`, s)
	tooLong := fmt.Errorf("duration %q is out of range: the longest is %s", s, rangeText)
	rest := s
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.ParseUint(s[:i], 10, 64)
		if err != nil {
			if errors.Is(err, strconv.ErrRange) {
				return 0, tooLong
			}
			return 0, invalid
		}
		if n > uint64(MaxDuration/day) {
			return 0, tooLong
		}
		days = time.Duration(n) * day
		if rest = s[i+1:]; rest == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(rest)
	if err != nil {
		// time.ParseDuration refuses what overflows 292 years the same way
		// as a typo: tell them apart by the digits.
		if wellFormed.MatchString(rest) {
			return 0, tooLong
		}
		return 0, invalid
	}
	if days > 0 && d < 0 {
		return 0, invalid
	}
	if d > MaxDuration || days+d > MaxDuration {
		return 0, tooLong
	}
	return days + d, nil
}

// FormatDuration writes a duration the way ParseDuration reads it, with
// days: "1d12h", "30d", "90m", "1m30s".
func FormatDuration(d time.Duration) string {
	if d < 0 {
		return "-" + FormatDuration(-d)
	}
	days, rest := d/day, d%day
	s := ""
	if days > 0 {
		s = fmt.Sprintf("%dd", days)
		if rest == 0 {
			return s
		}
	}
	r := rest.String()
	// "2h0m0s" -> "2h", "1h30m0s" -> "1h30m"; "10s" and "500ms" stay.
	for _, zero := range []string{"0s", "0m"} {
		if len(r) > len(zero) && strings.HasSuffix(r, zero) && r[len(r)-len(zero)-1] >= 'a' {
			r = strings.TrimSuffix(r, zero)
		}
	}
	return s + r
}

// NextDue is when a recurring job runs next after the run that was due at
// due ended at now: one interval after its due time, but never in the past,
// so a late run does not make runs pile up and a run is never early.
func NextDue(due time.Time, every time.Duration, now time.Time) time.Time {
	next := due.Add(every)
	if latest := now.Add(MaxDuration); next.After(latest) || every <= 0 {
		// Only a store written before the range was checked holds such an
		// interval: clamp it rather than let it wrap around to the past.
		next = latest
	}
	if next.Before(now) {
		return now
	}
	return next
}
