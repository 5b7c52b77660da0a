// Package cmdline holds what the render plugins share about starting a
// program: splitting an argument string the way Flamenco's stock worker
// does, and finding the program from the task, the plugin's config or PATH.
package cmdline

import (
	"fmt"
	"strings"
)

// Split splits s into words exactly as Flamenco's stock worker splits
// exeArgs (it uses github.com/google/shlex), so that a Manager's
// {blenderArgs} means the same on both workers. There is no expansion of
// any kind: $, * and ~ are ordinary characters.
//
//   - Blanks (space, tab, CR, LF) separate words.
//   - 'Single quotes' keep everything literally.
//   - In "double quotes" a backslash makes the next character literal,
//     whatever it is: "\"" is ", "\\" is \, but "C:\tmp" is C:tmp.
//   - Outside quotes a backslash makes the next character literal, a
//     newline included (it is kept, not joined as a POSIX shell would).
//   - A # at the start of a word begins a comment up to the end of the line.
//   - An unterminated quote or a trailing backslash is an error.
//
// Split("-b -y --python-expr 'import bpy'") = [-b -y --python-expr import bpy].
func Split(s string) ([]string, error) {
	var (
		words []string
		word  strings.Builder
	)
	// Each case consumes one word, a run of blanks or a comment.
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case isBlank(c):
			i++
		case c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		default:
			var err error
			if i, err = scanWord(s, i, &word); err != nil {
				return nil, err
			}
			words = append(words, word.String())
			word.Reset()
		}
	}
	return words, nil
}

// scanWord reads the word starting at s[i] into word and returns the index
// after it.
func scanWord(s string, i int, word *strings.Builder) (int, error) {
	for i < len(s) {
		c := s[i]
		switch {
		case isBlank(c):
			return i, nil
		case c == '\\':
			if i+1 >= len(s) {
				return 0, fmt.Errorf("trailing backslash in %q", s)
			}
			word.WriteByte(s[i+1])
			i += 2
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return 0, fmt.Errorf("unterminated single quote at position %d in %q", i+1, s)
			}
			word.WriteString(s[i+1 : i+1+j])
			i += j + 2
		case c == '"':
			start := i
			for i++; ; i++ {
				if i >= len(s) {
					return 0, fmt.Errorf("unterminated double quote at position %d in %q", start+1, s)
				}
				if s[i] == '"' {
					break
				}
				if s[i] == '\\' {
					if i+1 >= len(s) {
						return 0, fmt.Errorf("unterminated double quote at position %d in %q", start+1, s)
					}
					i++
				}
				word.WriteByte(s[i])
			}
			i++
		default:
			word.WriteByte(c)
			i++
		}
	}
	return i, nil
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
