package cgroups

import (
	"context"
	"testing"
)

// BenchmarkAcquireRelease is the cost of one run's cgroup, its peak and OOM
// count read (no process ever in it): "new" makes and removes one per run,
// as before the pool; "pooled" reuses an idle one.
func BenchmarkAcquireRelease(b *testing.B) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		end  func(*Run) error
	}{
		{"new", func(r *Run) error { return r.discard(ctx) }},
		{"pooled", func(r *Run) error { return r.Release(ctx) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			m, err := Open(ctx, SelfEnv())
			if err != nil {
				b.Skipf("no memory cgroup this process may manage: %v", err)
			}
			defer m.Close()
			for i := 0; i < b.N; i++ {
				r, err := m.Acquire(ctx, "bench", 1<<30)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = r.Peak(), r.OOMKills()
				if err := tc.end(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
