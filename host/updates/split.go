package updates

import (
	"strings"
	"unicode/utf8"
)

// minLogPiece is the smallest log piece a 413 makes the sender cut: a
// Manager that refuses even this much log in one request refuses the log
// for another reason than its size.
const minLogPiece = 1 << 10

// splitLog cuts u into requests whose logs are at most max bytes (no cut
// when max <= 0): log-only updates first, then the last piece with u's
// status, activity and steps, so the Manager has the whole log before the
// status. Sent one after the other they leave the Manager's log as u would.
func splitLog(u Update, max int) []Update {
	var out []Update
	for {
		piece, rest := nextPiece(u, max)
		out = append(out, piece)
		if rest == nil {
			return out
		}
		u = *rest
	}
}

// nextPiece returns the first request of splitLog(u, max) and what is left
// of u after it, or nil when the piece is all of u.
func nextPiece(u Update, max int) (piece Update, rest *Update) {
	if max <= 0 || len(u.Log) <= max {
		return u, nil
	}
	n := cutPoint(u.Log, max)
	r := u
	r.Log = u.Log[n:]
	return Update{TaskID: u.TaskID, Log: u.Log[:n]}, &r
}

// cutPoint is the length of the first piece of a log longer than max: up
// to and including the last newline within max bytes, so that the pieces
// join on the Manager exactly as the log was (it adds a newline only to a
// piece that lacks one). A line longer than max is cut at a rune boundary,
// and the Manager shows it as two lines.
func cutPoint(log string, max int) int {
	if i := strings.LastIndexByte(log[:max], '\n'); i >= 0 {
		return i + 1
	}
	n := max
	for n > 0 && !utf8.RuneStart(log[n]) {
		n--
	}
	if n == 0 {
		return max // not UTF-8 near the start: cut anyway
	}
	return n
}
