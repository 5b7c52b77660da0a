// Package ospath is path syntax as a value: the plugins' path logic takes a
// Syntax instead of calling path/filepath, so that its Windows behaviour
// (drive letters, UNC shares, backslashes, names that differ only in case)
// is tested on Linux too. Native is the running system's syntax; on Windows
// its answers match path/filepath's, which the Windows tests check.
//
// Only the syntax lives here: nothing touches the file system.
package ospath

import (
	"path"
	"strings"
)

// Syntax is a family of path rules: Unix or Windows.
type Syntax int

const (
	// Unix paths: "/" separates, names are case-sensitive.
	Unix Syntax = iota
	// Windows paths: "\" and "/" separate, a path may start with a drive
	// ("C:") or a UNC share ("\\server\share"), names are compared
	// without regard to case.
	Windows
)

func (s Syntax) String() string {
	if s == Windows {
		return "windows"
	}
	return "unix"
}

// Separator is the separator Clean and Join write.
func (s Syntax) Separator() byte {
	if s == Windows {
		return '\\'
	}
	return '/'
}

// IsSeparator reports whether c separates names.
func (s Syntax) IsSeparator(c byte) bool {
	return c == '/' || (s == Windows && c == '\\')
}

// VolumeName is the leading volume of a Windows path, with backslashes:
// "C:" in C:\x, \\server\share in \\server\share\x or //server/share/x,
// \\?\C: in \\?\C:\x. It is "" for Unix. As filepath does, it takes
// \\?\UNC alone as the volume of \\?\UNC\server\share\x.
func (s Syntax) VolumeName(p string) string {
	return strings.ReplaceAll(p[:s.volumeLen(p)], "/", `\`)
}

func (s Syntax) volumeLen(p string) int {
	switch {
	case s != Windows:
		return 0
	case len(p) >= 2 && p[1] == ':':
		return 2
	case len(p) < 2 || !s.IsSeparator(p[0]):
		return 0
	case s.hasPrefixFold(p, `\\.\UNC`):
		return s.shareEnd(p, len(`\\.\UNC\`))
	case s.hasPrefixFold(p, `\\.`) || s.hasPrefixFold(p, `\\?`) || s.hasPrefixFold(p, `\??`):
		// A device path: its first name is part of the volume (\\?\C:).
		if len(p) == 3 {
			return 3
		}
		return 4 + s.nameLen(p[4:])
	case s.IsSeparator(p[1]):
		return s.shareEnd(p, 2)
	}
	return 0
}

// hasPrefixFold reports whether p starts with prefix, ignoring case and
// taking any separator for a separator, and the prefix is followed by a
// separator or nothing.
func (s Syntax) hasPrefixFold(p, prefix string) bool {
	if len(p) < len(prefix) || (len(p) > len(prefix) && !s.IsSeparator(p[len(prefix)])) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if s.IsSeparator(prefix[i]) {
			if !s.IsSeparator(p[i]) {
				return false
			}
		} else if !strings.EqualFold(p[i:i+1], prefix[i:i+1]) {
			return false
		}
	}
	return true
}

// shareEnd is where the server\share names starting at i end.
func (s Syntax) shareEnd(p string, i int) int {
	n := i + s.nameLen(p[i:])
	if n < len(p) {
		n++
		n += s.nameLen(p[n:])
	}
	return n
}

// nameLen is the length of the first name of p (up to a separator).
func (s Syntax) nameLen(p string) int {
	for i := 0; i < len(p); i++ {
		if s.IsSeparator(p[i]) {
			return i
		}
	}
	return len(p)
}

// isShare reports whether a volume name is a UNC share or device path (it
// starts with two separators), not a drive letter.
func (s Syntax) isShare(vol string) bool {
	return len(vol) > 2
}

// IsAbs reports whether p is absolute: it starts with "/" (Unix), or with
// a drive and a separator or a UNC share (Windows). \foo and C:foo are not
// absolute on Windows: they depend on the current drive or folder.
func (s Syntax) IsAbs(p string) bool {
	if s != Windows {
		return path.IsAbs(p)
	}
	vol := s.VolumeName(p)
	if s.isShare(vol) {
		return true
	}
	return vol != "" && len(p) > 2 && s.IsSeparator(p[2])
}

// Clean is the shortest path naming the same file by lexical processing,
// as filepath.Clean does on the syntax's system: ".." removes the name
// before it (never past the root), and Windows paths get backslashes.
func (s Syntax) Clean(p string) string {
	if s != Windows {
		return path.Clean(p)
	}
	vol := s.VolumeName(p)
	rest := p[len(vol):]
	if rest == "" {
		if s.isShare(vol) {
			return vol
		}
		return vol + "."
	}
	rooted := s.IsSeparator(rest[0])
	var out []string
	for _, name := range strings.FieldsFunc(rest, func(r rune) bool { return r < 0x80 && s.IsSeparator(byte(r)) }) {
		switch {
		case name == ".":
		case name == ".." && len(out) > 0 && out[len(out)-1] != "..":
			out = out[:len(out)-1]
		case name == ".." && rooted:
			// Nothing is above the root.
		default:
			out = append(out, name)
		}
	}
	joined := strings.Join(out, `\`)
	if rooted {
		return vol + `\` + joined
	}
	if joined == "" {
		joined = "."
	}
	return vol + joined
}

// Join joins names with the separator and cleans the result, as
// filepath.Join does on the syntax's system; empty names are skipped.
func (s Syntax) Join(elem ...string) string {
	if s != Windows {
		return path.Join(elem...)
	}
	var b strings.Builder
	var last byte
	for _, e := range elem {
		if e == "" {
			continue
		}
		switch {
		case b.Len() == 0:
		case s.IsSeparator(last):
			// Never make a UNC path ("\\") out of names that are not one.
			for len(e) > 0 && s.IsSeparator(e[0]) {
				e = e[1:]
			}
		case last == ':':
			// "C:" + "x" is C:x, relative to the drive's current folder.
		default:
			b.WriteByte('\\')
			last = '\\'
		}
		if e == "" {
			continue
		}
		b.WriteString(e)
		last = e[len(e)-1]
	}
	if b.Len() == 0 {
		return ""
	}
	return s.Clean(b.String())
}

// Split splits p after its last separator into folder and file name.
func (s Syntax) Split(p string) (dir, file string) {
	vol := s.volumeLen(p)
	i := len(p) - 1
	for i >= vol && !s.IsSeparator(p[i]) {
		i--
	}
	return p[:i+1], p[i+1:]
}

// Dir is p without its last name, cleaned; "." when nothing is left.
func (s Syntax) Dir(p string) string {
	if s != Windows {
		return path.Dir(p)
	}
	vol := s.VolumeName(p)
	i := len(p) - 1
	for i >= len(vol) && !s.IsSeparator(p[i]) {
		i--
	}
	dir := s.Clean(p[len(vol) : i+1])
	if dir == "." && s.isShare(vol) {
		return vol
	}
	return vol + dir
}

// Base is the last name of p; trailing separators are ignored. It is "."
// for an empty path and the separator for a root.
func (s Syntax) Base(p string) string {
	if s != Windows {
		return path.Base(p)
	}
	if p == "" {
		return "."
	}
	for len(p) > 0 && s.IsSeparator(p[len(p)-1]) {
		p = p[:len(p)-1]
	}
	p = p[s.volumeLen(p):]
	i := len(p) - 1
	for i >= 0 && !s.IsSeparator(p[i]) {
		i--
	}
	if p = p[i+1:]; p == "" {
		return `\`
	}
	return p
}

// Ext is the extension of p's last name, with its dot; "" when none.
func (s Syntax) Ext(p string) string {
	for i := len(p) - 1; i >= 0 && !s.IsSeparator(p[i]); i-- {
		if p[i] == '.' {
			return p[i:]
		}
	}
	return ""
}

// Within reports whether path is root or below it, both absolute. Windows
// paths are compared without regard to case, drive letters and UNC server
// and share names too, and the \\?\ and \\.\ forms of a drive or share
// (\\?\C:\x, \\?\UNC\server\share\x) count as the plain ones. ".." is
// resolved lexically: resolve links before asking.
func (s Syntax) Within(path, root string) bool {
	pv, pn := s.names(path)
	rv, rn := s.names(root)
	if !s.same(pv, rv) || len(pn) < len(rn) {
		return false
	}
	for i, name := range rn {
		if !s.same(pn[i], name) {
			return false
		}
	}
	return true
}

// names cleans p and splits it into its volume, in its plain form (C:,
// \\server\share), and its names.
func (s Syntax) names(p string) (vol string, names []string) {
	p = s.Clean(p)
	vol = s.VolumeName(p)
	for _, name := range strings.Split(p[len(vol):], string(s.Separator())) {
		if name != "" {
			names = append(names, name)
		}
	}
	if s != Windows || len(vol) < 4 || !s.IsSeparator(vol[0]) || (vol[2] != '?' && vol[2] != '.') {
		return vol, names
	}
	switch dev := vol[4:]; {
	case len(dev) == 2 && dev[1] == ':': // \\?\C:
		vol = dev
	case strings.EqualFold(dev, "UNC") && len(names) >= 2: // \\?\UNC, then server and share
		vol, names = `\\`+names[0]+`\`+names[1], names[2:]
	case len(dev) > 4 && strings.EqualFold(dev[:4], `UNC\`): // \\.\UNC\server\share
		vol = `\\` + dev[4:]
	}
	return vol, names
}

// same reports whether two names are the same name.
func (s Syntax) same(a, b string) bool {
	if s == Windows {
		return strings.EqualFold(a, b)
	}
	return a == b
}
