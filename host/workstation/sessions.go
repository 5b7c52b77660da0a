package workstation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// SessionStaleAfter is how old a session report may be before the session
// counts as gone (logged out, helper killed); the helper writes one every
// MaxSessionPoll at least.
const (
	SessionStaleAfter = 15 * time.Second
	MaxSessionPoll    = 5 * time.Second
)

// maxReportBytes bounds what is read of a report: the folder is writable by
// the machine's users, so its files are untrusted input.
const maxReportBytes = 4 << 10

// sessionReport is one file that `cajon idle-helper` writes from a user's
// session.
type sessionReport struct {
	// LastInput is when the session last had keyboard or mouse input.
	LastInput time.Time `json:"last_input"`
	// Session names the user and helper, for the log.
	Session string `json:"session"`
}

// Sessions reads the idle time that helpers in the users' desktop sessions
// report into one folder (Windows: a service cannot see the desktop's
// input, so `cajon idle-helper`, started at logon, reads GetLastInputInfo
// there and writes it here). A report not rewritten within
// SessionStaleAfter counts as a session that ended.
type Sessions struct {
	dir string
	now func() time.Time
}

// NewSessions returns a detector of the reports in dir.
func NewSessions(dir string) *Sessions { return &Sessions{dir: dir, now: time.Now} }

// Name implements Detector.
func (s *Sessions) Name() string { return "sessions in " + s.dir }

// Close implements Detector.
func (s *Sessions) Close() error { return nil }

// Idle implements Detector: the shortest idle time of the fresh reports. No
// fresh report is an error: nobody is logged on, or no helper runs.
func (s *Sessions) Idle(ctx context.Context) (time.Duration, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return 0, fmt.Errorf("reading the session reports (workstation.session_dir): %w", err)
	}
	now := s.now()
	best, seen := time.Duration(0), false
	for _, e := range entries {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		info, err := e.Info()
		if err != nil || now.Sub(info.ModTime()) > SessionStaleAfter {
			continue
		}
		r, err := readReport(filepath.Join(s.dir, e.Name()))
		if err != nil {
			continue // half-written or forged: the next poll reads it again
		}
		idle := max(0, now.Sub(r.LastInput))
		if !seen || idle < best {
			best, seen = idle, true
		}
	}
	if !seen {
		return 0, fmt.Errorf("no session reported its input in %s within %s: nobody is logged on, or `cajon idle-helper` is not started at logon", s.dir, SessionStaleAfter)
	}
	return best, nil
}

func readReport(path string) (sessionReport, error) {
	f, err := os.Open(path)
	if err != nil {
		return sessionReport{}, err
	}
	defer f.Close()
	var r sessionReport
	if err := json.NewDecoder(io.LimitReader(f, maxReportBytes)).Decode(&r); err != nil {
		return sessionReport{}, err
	}
	if r.LastInput.IsZero() {
		return sessionReport{}, errors.New("no last_input")
	}
	return r, nil
}

// ReportIdle writes the idle time that lastInput returns into dir as
// <session>.json every poll, until ctx ends; then it removes the report, so
// the worker sees the session gone at once. It is `cajon idle-helper`'s loop.
func ReportIdle(ctx context.Context, dir, session string, poll time.Duration, lastInput func() (time.Duration, error)) error {
	if poll <= 0 || poll > MaxSessionPoll {
		return fmt.Errorf("the report interval %s must be more than 0 and at most %s, or the worker takes the session for gone", poll, MaxSessionPoll)
	}
	if strings.ContainsAny(session, `/\:`) || session == "" || session == "." || session == ".." {
		return fmt.Errorf("session name %q: must be a plain file name", session)
	}
	path := filepath.Join(dir, session+".json")
	defer os.Remove(path)
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		idle, err := lastInput()
		if err != nil {
			return fmt.Errorf("reading this session's last input: %w", err)
		}
		if err := writeReport(path, sessionReport{LastInput: time.Now().Add(-idle), Session: session}); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// writeReport replaces path at once (a temporary file renamed), so the
// worker never reads half a report.
func writeReport(path string, r sessionReport) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".report-*")
	if err != nil {
		return fmt.Errorf("writing the session report in %s (may this user write there?): %w", filepath.Dir(path), err)
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing the session report: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing the session report: %w", err)
	}
	return nil
}
