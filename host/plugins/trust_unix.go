//go:build unix

package plugins

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// checkOwnerAndMode refuses a file or folder of a plugin that is writable by
// group or others, or owned by neither root nor the user running cajon.
func checkOwnerAndMode(path, what, plugin string) error {
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("plugin %s: %w", plugin, err)
	}
	of := ""
	if path != plugin {
		of = " (of plugin " + plugin + ")"
	}
	if perm := info.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("plugin %s %s%s is writable by %s (mode %s), so others could put their own code in it; fix: chmod go-w %s",
			what, path, of, writers(perm), info.Mode(), path)
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if me := os.Getuid(); st.Uid != 0 && int(st.Uid) != me {
		return fmt.Errorf("plugin %s %s%s is owned by %s, not by root or by the user running cajon (%s), so its owner could put their own code in it; fix: chown %s %s",
			what, path, of, userName(int(st.Uid)), userName(me), ownerFix(me), path)
	}
	return nil
}

// writers names who may write, from the group and others write bits.
func writers(perm os.FileMode) string {
	switch {
	case perm&0o022 == 0o022:
		return "group and others"
	case perm&0o020 != 0:
		return "its group"
	}
	return "others"
}

// userName shows a uid with its name when it has one.
func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return fmt.Sprintf("%s (uid %d)", u.Username, uid)
	}
	return fmt.Sprintf("uid %d", uid)
}

// ownerFix is who should own plugin files: root, or the user running cajon.
func ownerFix(me int) string {
	if me == 0 {
		return "root"
	}
	if u, err := user.LookupId(strconv.Itoa(me)); err == nil {
		return u.Username
	}
	return strconv.Itoa(me)
}
