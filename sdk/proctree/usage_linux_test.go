package proctree_test

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/sdk/proctree"
)

// A Sampler counts the tagged processes below its root and their untagged
// children, not a stranger beside them; with All it counts every one.
func TestSamplerCountsTheRunsProcesses(t *testing.T) {
	start := func(tag string) *exec.Cmd {
		cmd := exec.Command("/bin/sh", "-c", "env -u "+proctree.TagEnv+" sleep 60 & wait")
		cmd.Env = append(os.Environ(), proctree.TagEnv+"="+tag)
		if tag == "" {
			cmd.Env = os.Environ()
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd
	}
	start("sampled-run/1")
	start("")
	start("another-run")
	for _, tc := range []struct {
		name string
		all  bool
		want int
	}{
		{"tagged and their children", false, 2},
		{"all", true, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := proctree.NewSampler(os.Getpid(), "sampled-run")
			s.All = tc.all
			// The shells start their sleeps a moment after they start.
			deadline := time.Now().Add(10 * time.Second)
			for {
				u, err := s.Sample()
				if err != nil {
					t.Fatal(err)
				}
				if u.Procs >= tc.want {
					if u.Procs != tc.want || u.RSS <= 0 {
						t.Fatalf("%+v, want %d processes with some memory", u, tc.want)
					}
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("%+v, want %d processes", u, tc.want)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// BenchmarkSample: one sample of a run's processes, the node guard's cost
// per GuardInterval (it reads every process's stat in /proc).
func BenchmarkSample(b *testing.B) {
	s := proctree.NewSampler(os.Getpid(), "no-such-run")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := s.Sample(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(mustProcs(b))), "procs")
}

func mustProcs(b *testing.B) []string {
	d, err := os.ReadDir("/proc")
	if err != nil {
		b.Fatal(err)
	}
	var out []string
	for _, e := range d {
		if c := e.Name()[0]; c >= '0' && c <= '9' {
			out = append(out, e.Name())
		}
	}
	return out
}
