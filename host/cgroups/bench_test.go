package cgroups

import (
	"context"
	"testing"
)

// BenchmarkCreateRemove is the cost of one run's cgroup: made with its
// limit, its peak and OOM count read, removed (no process ever in it).
func BenchmarkCreateRemove(b *testing.B) {
	m, err := Open(context.Background(), SelfEnv())
	if err != nil {
		b.Skipf("no memory cgroup this process may manage: %v", err)
	}
	defer m.Close()
	for i := 0; i < b.N; i++ {
		r, err := m.Create("bench", 1<<30)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = r.Peak(), r.OOMKills()
		if err := r.Remove(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}
