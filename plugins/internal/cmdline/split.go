// Package cmdline holds what the render plugins share about starting a
// program: splitting an argument string the way a POSIX shell would, and
// finding the program from the task, the plugin's config or PATH.
package cmdline

import (
	"fmt"
	"strings"
)

// Split splits s into words like a POSIX shell, without any expansion: words
// are separated by blanks (space, tab, newline); 'single quotes' keep
// everything literally; "double quotes" keep everything except that a
// backslash escapes ", \, $, ` and a newline; outside quotes a backslash
// escapes any character, and backslash-newline joins lines. There is no
// globbing, no variables, no command substitution: $ and * are ordinary
// characters. An unterminated quote or a trailing backslash is an error.
//
// Split("-b -y --python-expr 'import bpy'") = [-b -y --python-expr import bpy].
func Split(s string) ([]string, error) {
	var (
		words  []string
		word   strings.Builder
		inWord bool // true once the current word has begun, even if empty ("")
	)
	end := func() {
		if inWord {
			words = append(words, word.String())
			word.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case ' ', '\t', '\n', '\r':
			end()
		case '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated single quote at position %d in %q", i+1, s)
			}
			word.WriteString(s[i+1 : i+1+j])
			inWord = true
			i += j + 1
		case '"':
			start := i
			inWord = true
			closed := false
			for i++; i < len(s); i++ {
				c := s[i]
				if c == '"' {
					closed = true
					break
				}
				if c == '\\' && i+1 < len(s) {
					switch n := s[i+1]; n {
					case '"', '\\', '$', '`':
						word.WriteByte(n)
						i++
						continue
					case '\n':
						i++
						continue
					}
				}
				word.WriteByte(c)
			}
			if !closed {
				return nil, fmt.Errorf("unterminated double quote at position %d in %q", start+1, s)
			}
		case '\\':
			if i+1 >= len(s) {
				return nil, fmt.Errorf("trailing backslash in %q", s)
			}
			i++
			if s[i] == '\n' {
				continue // line continuation
			}
			word.WriteByte(s[i])
			inWord = true
		default:
			word.WriteByte(c)
			inWord = true
		}
	}
	end()
	return words, nil
}
