package cmdline

import "strings"

// Join renders argv for a log line, quoting each word that Split would not
// read back as it is, so that the line can be pasted into a POSIX shell.
func Join(argv []string) string {
	quoted := make([]string, len(argv))
	for i, a := range argv {
		quoted[i] = quote(a)
	}
	return strings.Join(quoted, " ")
}

// quote returns s, single-quoted when it holds anything but plain characters.
func quote(s string) string {
	if s == "" {
		return "''"
	}
	plain := s[0] != '#' // a comment in a shell
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=+,@%#", r)) {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
