package fileroots

import (
	"context"
	"errors"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/host/flamenco"
)

// fakeManager answers SharedStorage and counts the questions.
type fakeManager struct {
	location string
	err      error
	asked    int
}

func (f *fakeManager) SharedStorage(_ context.Context, platform string) (flamenco.SharedStorage, error) {
	f.asked++
	if platform != runtime.GOOS {
		return flamenco.SharedStorage{}, errors.New("wrong platform " + platform)
	}
	return flamenco.SharedStorage{Location: f.location, Platform: platform}, f.err
}

func TestRoots(t *testing.T) {
	cases := []struct {
		name    string
		source  func(m *fakeManager) *Source
		manager fakeManager
		want    []string // nil = anywhere
		err     string
	}{
		{"local, nothing set: anywhere", func(*fakeManager) *Source { return Configured(nil) }, fakeManager{}, nil, ""},
		{"local, set", func(*fakeManager) *Source { return Configured([]string{"/srv"}) }, fakeManager{}, []string{"/srv"}, ""},
		{"Manager, set: the setting wins", func(m *fakeManager) *Source { return ForManager([]string{"/srv"}, m, "/tmp") },
			fakeManager{location: "/mnt/flamenco"}, []string{"/srv"}, ""},
		{"Manager, not set: its shared storage and the temp folder", func(m *fakeManager) *Source { return ForManager(nil, m, "/tmp") },
			fakeManager{location: "/mnt/flamenco"}, []string{"/mnt/flamenco", "/tmp"}, ""},
		{"Manager unreachable", func(m *fakeManager) *Source { return ForManager(nil, m, "/tmp") },
			fakeManager{err: errors.New("connection refused")}, nil,
			"files.allowed_roots is not set, and the Manager's shared storage, the default, could not be learned: connection refused; set files.allowed_roots in cajon.toml"},
		{"Manager storage relative", func(m *fakeManager) *Source { return ForManager(nil, m, "/tmp") },
			fakeManager{location: "flamenco-jobs"}, nil, `is "flamenco-jobs", not an absolute path`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.manager
			got, err := tc.source(&m).Roots(context.Background())
			switch {
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("error %v, want it to say %q", err, tc.err)
			case tc.err == "" && (err != nil || !reflect.DeepEqual(got, tc.want)):
				t.Fatalf("roots %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

// The Manager is asked once it answered; after a failure, it is asked again.
func TestManagerIsAskedUntilItAnswers(t *testing.T) {
	m := &fakeManager{err: errors.New("down")}
	s := ForManager(nil, m, "")
	if _, err := s.Roots(context.Background()); err == nil {
		t.Fatal("no error while the Manager is down")
	}
	m.err, m.location = nil, "/mnt/flamenco"
	for range 3 {
		if got, err := s.Roots(context.Background()); err != nil || !reflect.DeepEqual(got, []string{"/mnt/flamenco"}) {
			t.Fatalf("roots %v, %v", got, err)
		}
	}
	if m.asked != 2 {
		t.Fatalf("asked %d times, want 2", m.asked)
	}
}

func TestRunConfig(t *testing.T) {
	s := Configured([]string{"/srv"})
	if got, err := s.RunConfig(context.Background(), "files"); err != nil || !reflect.DeepEqual(got, map[string]any{"allowed_roots": []string{"/srv"}}) {
		t.Fatalf("files: %v, %v", got, err)
	}
	if got, err := s.RunConfig(context.Background(), "blender"); err != nil || got != nil {
		t.Fatalf("another plugin: %v, %v", got, err)
	}
	if got, err := Configured(nil).RunConfig(context.Background(), "files"); err != nil || got != nil {
		t.Fatalf("anywhere: %v, %v", got, err)
	}
	if _, err := ForManager(nil, &fakeManager{err: errors.New("down")}, "").RunConfig(context.Background(), "files"); err == nil {
		t.Fatal("a failure must fail the command")
	}
}
