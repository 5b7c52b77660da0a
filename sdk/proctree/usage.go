package proctree

import "time"

// Usage is what a set of processes holds and has used at one moment.
type Usage struct {
	// RSS is the sum of the processes' resident memory in bytes. Pages that
	// processes share (a fork's copy-on-write pages, shared libraries) count
	// once per process, so it can overstate what the set costs the node.
	RSS int64
	// CPU is the processes' user and system time, with that of the children
	// they have waited for. It drops when a process that has used CPU
	// exits before its parent waits for it.
	CPU time.Duration
	// Procs is how many processes were counted.
	Procs int
}

// Sampler measures the processes of one run below a root process: the
// descendants of root started with the run's tag (CAJON_RUN_ID, or a
// sub-tag of it), with their own descendants; with All, every descendant
// of root. It remembers which processes carry the tag, so a sample reads
// each process's environment once. A Sampler is not safe for concurrent
// use.
type Sampler struct {
	root int
	tag  string
	// All counts every descendant of root, tagged or not: for a root that
	// runs one command at a time and keeps processes of its own between
	// runs (a warm application session).
	All bool

	tagged map[procKey]bool // processes whose tag was read; nil until one is
}

// NewSampler returns a Sampler of the processes below root that carry tag.
func NewSampler(root int, tag string) *Sampler {
	return &Sampler{root: root, tag: tag}
}
