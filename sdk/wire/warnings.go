package wire

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits on a command's warnings (plugin.proto, Result.warnings): a warning
// is one short line for the task's activity and the admin's metrics, not a
// second log.
const (
	// MaxWarnings is how many warnings one command reports; later ones
	// are counted in a last warning that says how many were left out.
	MaxWarnings = 20
	// MaxWarningBytes bounds one warning; longer ones are cut.
	MaxWarningBytes = 500
)

// Warning makes text fit a warning: its first line, cut to MaxWarningBytes
// at a rune boundary, as valid UTF-8.
func Warning(text string) string {
	text = strings.TrimSpace(text)
	if i := strings.IndexByte(text, '\n'); i >= 0 {
		text = strings.TrimSpace(text[:i]) + " ..."
	}
	text = strings.ToValidUTF8(text, "\uFFFD")
	if len(text) <= MaxWarningBytes {
		return text
	}
	cut := MaxWarningBytes
	for cut > 0 && !utf8.RuneStart(text[cut]) {
		cut--
	}
	return text[:cut] + "..."
}

// Warnings bounds a command's warnings as a host or a plugin sends them:
// each through Warning, empty ones dropped; past MaxWarnings, the last one
// kept says how many more there were.
func Warnings(in []string) []string {
	var out []string
	for _, w := range in {
		if w = Warning(w); w != "" {
			out = append(out, w)
		}
	}
	if len(out) > MaxWarnings {
		more := len(out) - (MaxWarnings - 1)
		out = append(out[:MaxWarnings-1], fmt.Sprintf("(and %d more warnings, see the task log)", more))
	}
	return out
}
