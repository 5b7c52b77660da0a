package winservice

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/internal/testtemp"
)

func TestLogFileRotates(t *testing.T) {
	dir := testtemp.Dir(t) // t.TempDir cannot clean up under wine
	path := filepath.Join(dir, "logs", "cajon.log")
	l, err := openLog(path, 100)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Repeat("x", 39) + "\n" // 40 bytes
	for i := 0; i < 5; i++ {
		if _, err := l.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// 2 lines (80 bytes) fit; the third rotates; lines 3 and 4 fit; the
	// fifth rotates again.
	for file, want := range map[string]int{path: 1, path + ".1": 2} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Count(string(b), "\n"); got != want {
			t.Errorf("%s has %d lines, want %d", file, got, want)
		}
	}
	// Reopened, it appends and counts what is there.
	l, err = openLog(path, 100)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.size != 40 {
		t.Errorf("reopened at %d bytes, want 40", l.size)
	}
}

func TestServiceArgs(t *testing.T) {
	in := Install{Name: "cajon", Exe: `C:\cajon\cajon.exe`, Log: `C:\ProgramData\cajon\cajon.log`,
		RunArgs: []string{"--config", `C:\ProgramData\cajon\cajon.toml`, "--restart-exit-code", "47"}}
	got := strings.Join(in.ServiceArgs(), " ")
	want := `service run --log C:\ProgramData\cajon\cajon.log cajon -- --config C:\ProgramData\cajon\cajon.toml --restart-exit-code 47`
	if got != want {
		t.Errorf("ServiceArgs = %s\nwant %s", got, want)
	}
}

func TestStatusString(t *testing.T) {
	cases := []struct {
		s    Status
		want string
	}{
		{Status{State: "running", PID: 812}, "running (pid 812)"},
		{Status{State: "stopped", ExitCode: 47}, "stopped (last exit code 47)"},
		{Status{State: "stopped"}, "stopped"},
		{Status{State: "stopped", ExitCode: 1077}, "stopped"},
	}
	for _, c := range cases {
		if got := c.s.String(); got != c.want {
			t.Errorf("%+v = %s, want %s", c.s, got, c.want)
		}
	}
}
