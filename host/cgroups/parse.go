package cgroups

import (
	"bufio"
	"bytes"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Membership is one line of /proc/<pid>/cgroup: a hierarchy and the
// process's cgroup in it.
type Membership struct {
	// ID is the hierarchy's id; 0 is the cgroup v2 (unified) hierarchy.
	ID int
	// Controllers are the v1 controllers bound to the hierarchy ("memory";
	// "name=systemd" for a named one); none for v2.
	Controllers []string
	// Path is the cgroup, relative to the hierarchy's root as this
	// process's cgroup namespace sees it.
	Path string
}

// V2 is true for the unified hierarchy's line ("0::<path>").
func (m Membership) V2() bool { return m.ID == 0 && len(m.Controllers) == 0 }

// ParseMemberships reads /proc/<pid>/cgroup.
func ParseMemberships(data []byte) ([]Membership, error) {
	var out []Membership
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" {
			continue
		}
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			return nil, fmt.Errorf("/proc/self/cgroup line %d %q: want hierarchy-id:controllers:path", n, line)
		}
		id, err := strconv.Atoi(parts[0])
		if err != nil {
			return nil, fmt.Errorf("/proc/self/cgroup line %d %q: hierarchy id: %w", n, line, err)
		}
		m := Membership{ID: id, Path: parts[2]}
		if parts[1] != "" {
			m.Controllers = strings.Split(parts[1], ",")
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

// Mount is one cgroup filesystem mount from /proc/<pid>/mountinfo.
type Mount struct {
	// Root is the hierarchy's directory mounted there ("/" usually; a
	// container may see a subtree).
	Root string
	// Point is where it is mounted.
	Point string
	// V2 is true for a cgroup2 mount.
	V2 bool
	// Options are the superblock options; a v1 mount's name its
	// controllers there ("rw,memory").
	Options []string
}

// ParseMountinfo returns the cgroup and cgroup2 mounts in a mountinfo file.
func ParseMountinfo(data []byte) ([]Mount, error) {
	var out []Mount
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" {
			continue
		}
		// id parent major:minor root point options [optional...] - fstype source superoptions
		pre, post, ok := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 6 || len(g) < 3 {
			return nil, fmt.Errorf("mountinfo line %d %q: malformed", n, line)
		}
		switch g[0] {
		case "cgroup", "cgroup2":
		default:
			continue
		}
		out = append(out, Mount{
			Root: unescapeMount(f[3]), Point: unescapeMount(f[4]),
			V2: g[0] == "cgroup2", Options: strings.Split(g[2], ","),
		})
	}
	return out, sc.Err()
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Location is the cgroup in which memory would be managed: which version and
// the cgroupfs directory of this process's cgroup there.
type Location struct {
	V2  bool
	Dir string
}

// Locate finds this process's memory cgroup from its memberships and the
// mounts: the v1 hierarchy with the memory controller when there is one
// (hybrid and legacy setups), else the unified hierarchy. The error says
// why there is none.
func Locate(ms []Membership, mounts []Mount) (Location, error) {
	for _, m := range ms {
		if m.V2() || !slices.Contains(m.Controllers, "memory") {
			continue
		}
		for _, mt := range mounts {
			if !mt.V2 && slices.Contains(mt.Options, "memory") {
				dir, err := within(mt, m.Path)
				return Location{Dir: dir}, err
			}
		}
		return Location{}, fmt.Errorf("the cgroup v1 memory controller (cgroup %s) is not mounted", m.Path)
	}
	for _, m := range ms {
		if !m.V2() {
			continue
		}
		for _, mt := range mounts {
			if mt.V2 {
				dir, err := within(mt, m.Path)
				return Location{V2: true, Dir: dir}, err
			}
		}
		return Location{}, fmt.Errorf("cgroup v2 (cgroup %s) is not mounted", m.Path)
	}
	return Location{}, fmt.Errorf("no memory cgroup: neither a cgroup v1 memory controller nor cgroup v2 in /proc/self/cgroup")
}

// within is the directory of cgroup p below mount mt.
func within(mt Mount, p string) (string, error) {
	p = path.Clean("/" + p)
	root := path.Clean("/" + mt.Root)
	rel, ok := strings.CutPrefix(p, root)
	if !ok || (rel != "" && !strings.HasPrefix(rel, "/") && root != "/") {
		return "", fmt.Errorf("cgroup %s is outside the hierarchy mounted at %s (root %s)", p, mt.Point, mt.Root)
	}
	if root == "/" {
		rel = p
	}
	return path.Join(mt.Point, rel), nil
}
