package sdk

import (
	"strings"
	"unicode/utf8"

	"github.com/cajonfarm/cajon/sdk/process"
)

// wireText makes s valid UTF-8: protobuf strings must be, and one invalid
// byte in a log line or an activity would fail the whole Run stream (the host
// then kills the plugin). Each run of invalid bytes becomes U+FFFD, as in
// the lines of child processes.
func wireText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// forEachPiece calls fn with line as valid UTF-8 pieces of at most
// process.MaxLineBytes bytes each, cut at rune boundaries: like the lines of
// child processes, so that one huge Log call cannot become one huge message.
func forEachPiece(line string, fn func(piece string)) {
	line = wireText(line)
	for len(line) > process.MaxLineBytes {
		cut := process.MaxLineBytes
		for cut > 0 && !utf8.RuneStart(line[cut]) {
			cut--
		}
		fn(line[:cut])
		line = line[cut:]
	}
	fn(line)
}
