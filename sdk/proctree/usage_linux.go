package proctree

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// clockTick is the unit of /proc/<pid>/stat's CPU times: USER_HZ, 100 on
// every Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// usageProc is one process as a sample sees it.
type usageProc struct {
	key    procKey
	ppid   int
	cpu    uint64 // utime + stime + cutime + cstime, in ticks
	rss    int64  // pages
	zombie bool
}

// Sample measures the processes of the run now. A root that is gone gives
// an empty Usage.
func (s *Sampler) Sample() (Usage, error) {
	procs, err := listUsage()
	if err != nil {
		return Usage{}, fmt.Errorf("list processes: %w", err)
	}
	children := make(map[int][]int, len(procs))
	for i, p := range procs {
		children[p.ppid] = append(children[p.ppid], i)
	}
	seen := make(map[procKey]bool, len(s.tagged))
	var u Usage
	var ticks uint64
	// Walk down from root; a member's descendants are members.
	type item struct {
		pid    int
		member bool
	}
	stack := []item{{pid: s.root, member: false}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, i := range children[it.pid] {
			p := procs[i]
			member := it.member || s.All || s.hasTag(p.key, seen)
			if member && !p.zombie {
				u.Procs++
				u.RSS += p.rss
				ticks += p.cpu
			}
			stack = append(stack, item{pid: p.key.pid, member: member})
		}
	}
	// Forget processes that are gone, so pids reused later are read anew.
	for k := range s.tagged {
		if !seen[k] {
			delete(s.tagged, k)
		}
	}
	u.RSS *= int64(os.Getpagesize())
	u.CPU = time.Duration(ticks) * clockTick
	return u, nil
}

// hasTag reports whether the process k carries the run's tag, reading its
// environment the first time only.
func (s *Sampler) hasTag(k procKey, seen map[procKey]bool) bool {
	seen[k] = true
	if has, ok := s.tagged[k]; ok {
		return has
	}
	has, sure := environHasTag(k.pid, s.tag, true)
	if sure {
		if s.tagged == nil {
			s.tagged = map[procKey]bool{}
		}
		s.tagged[k] = has
	}
	return has
}

// listUsage reads the whole process table from /proc with each process's
// CPU time and resident size.
func listUsage() ([]usageProc, error) {
	var procs []usageProc
	buf := make([]byte, 2048)
	err := eachPID(func(pid int) {
		fd, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/stat", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return // gone
		}
		n, err := unix.Read(fd, buf)
		unix.Close(fd)
		if err != nil || n <= 0 {
			return
		}
		if p, ok := parseUsage(pid, buf[:n]); ok {
			procs = append(procs, p)
		}
	})
	return procs, err
}

// parseUsage parses a /proc/<pid>/stat line (see parseStat): fields from
// the state on are state ppid pgrp session tty tpgid flags minflt cminflt
// majflt cmajflt utime(11) stime cutime cstime priority nice threads
// itrealvalue starttime(19) vsize rss(21).
func parseUsage(pid int, b []byte) (usageProc, bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return usageProc{}, false
	}
	f := bytes.Fields(b[i+2:])
	if len(f) < 22 {
		return usageProc{}, false
	}
	num := func(j int) uint64 {
		n, _ := strconv.ParseUint(string(f[j]), 10, 64)
		return n
	}
	ppid, err := strconv.Atoi(string(f[1]))
	if err != nil {
		return usageProc{}, false
	}
	rss, _ := strconv.ParseInt(string(f[21]), 10, 64)
	return usageProc{
		key:    procKey{pid: pid, start: num(19)},
		ppid:   ppid,
		cpu:    num(11) + num(12) + num(13) + num(14),
		rss:    max(rss, 0),
		zombie: f[0][0] == 'Z' || f[0][0] == 'X',
	}, true
}
