package cgroups

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Where each kind of node keeps this process's memory cgroup, from its
// /proc/self/cgroup and mountinfo (testdata/<name>.cgroup, .mountinfo).
func TestLocate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		want    Location
		wantErr string
	}{
		{"v1-hybrid", Location{Dir: "/sys/fs/cgroup/memory/process_api/6cb0256dd013b7ea145ae1368ef8ee18"}, ""},
		{"v1-container", Location{Dir: "/sys/fs/cgroup/memory"}, ""},
		{"v2-unified", Location{V2: true, Dir: "/sys/fs/cgroup/user.slice/user-1000.slice/session-3.scope"}, ""},
		{"v2-systemd", Location{V2: true, Dir: "/sys/fs/cgroup/system.slice/cajon-worker.service"}, ""},
		{"v2-container", Location{V2: true, Dir: "/sys/fs/cgroup"}, ""},
		{"v1-no-memory", Location{}, "neither a cgroup v1 memory controller nor cgroup v2"},
		{"v1-unmounted", Location{}, "memory controller (cgroup /foo) is not mounted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := ParseMemberships(read(t, tc.name+".cgroup"))
			if err != nil {
				t.Fatal(err)
			}
			mounts, err := ParseMountinfo(read(t, tc.name+".mountinfo"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Locate(ms, mounts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Locate = %+v, %v; want error with %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Locate = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestParseMemberships(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []Membership
		wantErr bool
	}{
		{"0::/a/b\n", []Membership{{ID: 0, Path: "/a/b"}}, false},
		{"4:memory:/x:y\n", []Membership{{ID: 4, Controllers: []string{"memory"}, Path: "/x:y"}}, false},
		{"2:cpu,cpuacct:/\n1:name=systemd:/s\n", []Membership{
			{ID: 2, Controllers: []string{"cpu", "cpuacct"}, Path: "/"},
			{ID: 1, Controllers: []string{"name=systemd"}, Path: "/s"},
		}, false},
		{"garbage\n", nil, true},
		{"x:memory:/\n", nil, true},
	} {
		got, err := ParseMemberships([]byte(tc.in))
		if (err != nil) != tc.wantErr {
			t.Errorf("%q: error %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		if !tc.wantErr && !equalMemberships(got, tc.want) {
			t.Errorf("%q: %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestParseMountinfoEscapes(t *testing.T) {
	ms, err := ParseMountinfo([]byte(`41 31 0:38 / /sys/fs/cgroup/my\040mount rw,relatime - cgroup2 cgroup2 rw` + "\n"))
	if err != nil || len(ms) != 1 || ms[0].Point != "/sys/fs/cgroup/my mount" || !ms[0].V2 {
		t.Fatalf("%+v, %v", ms, err)
	}
	if _, err := ParseMountinfo([]byte("41 31 0:38 / /x rw\n")); err == nil {
		t.Fatal("a line without its separator was accepted")
	}
}

func equalMemberships(a, b []Membership) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ID != b[i].ID || a[i].Path != b[i].Path || strings.Join(a[i].Controllers, ",") != strings.Join(b[i].Controllers, ",") {
			return false
		}
	}
	return true
}

func read(t *testing.T, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
