// Package faults is Cajon's fault suite: named scenarios that each break one
// thing (the Manager, a plugin, the update queue's disk, the host process)
// and check that the worker behaves as promised and that nothing was lost.
//
// The package has no code of its own; the scenarios are its tests, run by
// `make faults` (Linux only: they use /proc, signals and resource limits).
// docs/FAULTS.md lists every scenario: the fault, the expected behaviour and
// how the test checks it.
package faults
