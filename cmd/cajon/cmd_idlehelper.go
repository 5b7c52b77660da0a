package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/cajonfarm/cajon/host/workstation"
)

func cmdIdleHelper(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "idle-helper", "idle-helper --dir DIR [--poll D]",
		`Report this desktop session's last keyboard and mouse input to a worker in
workstation mode (Windows: GetLastInputInfo). A worker running as a service
cannot see the desktop's input, so start this at logon in each user's session
(a Run registry key, or a scheduled task "at log on" of any user), with --dir
set to the worker's workstation.session_dir. It rewrites <user>-<pid>.json in
that folder every --poll and removes it when it stops; the worker counts a
report older than 15 s as a session that ended.`)
	dir := fs.String("dir", "", "the worker's workstation.session_dir (required)")
	poll := fs.Duration("poll", 2*time.Second, fmt.Sprintf("how often to report, at most %s", workstation.MaxSessionPoll))
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		fs.Usage()
		return &exitError{code: 2, err: errors.New("--dir is required: the worker's workstation.session_dir")}
	}
	if _, err := workstation.LastInput(); err != nil {
		return fmt.Errorf("cannot read this session's input: %w", err)
	}
	session := fmt.Sprintf("%s-%d", sessionUser(), os.Getpid())
	fmt.Fprintf(env.stderr, "cajon idle-helper: reporting this session's input to %s as %s.json every %s\n",
		*dir, session, *poll)
	return workstation.ReportIdle(ctx, *dir, session, *poll, workstation.LastInput)
}

// sessionUser is the user's name as a file name part ("DOMAIN\alice" ->
// "alice"), "user" when it cannot be told.
func sessionUser() string {
	name := "user"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	name = filepath.Base(strings.ReplaceAll(name, `\`, "/"))
	return strings.Map(func(r rune) rune {
		if r == '.' || r == '-' || r == '_' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9') {
			return r
		}
		return '_'
	}, name)
}
