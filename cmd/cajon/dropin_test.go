package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/host/config"
	"github.com/cajonfarm/cajon/host/worker"
)

// stockSetup copies the stock worker's files of testdata/stockworker into
// a folder of the test's own.
func stockSetup(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("testdata", "stockworker"))); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestImportFlamencoWorker(t *testing.T) {
	dir := stockSetup(t)
	state := t.TempDir()
	var stdout, stderr bytes.Buffer
	// FLAMENCO_HOME is where the stock worker keeps its credentials.
	env := &cliEnv{stdout: &stdout, stderr: &stderr, environ: []string{"FLAMENCO_HOME=" + dir, "HOME=" + t.TempDir()}}
	if code := runCLI(env, []string{"import", "flamenco-worker", dir, "--state-dir", state}); code != 0 {
		t.Fatalf("cajon import: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	for _, want := range []string{"manager_url", "-> manager.url", "http://flamenco:8080", "render-07", "0f5e3c2a-8d7b-4c6e-9a1f-2b3c4d5e6f70", "wrote " + filepath.Join(dir, "cajon.toml")} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("cajon import's report lacks %q:\n%s", want, stdout.String())
		}
	}
	if strings.Contains(stdout.String(), "1234567890abcdef") {
		t.Errorf("cajon import shows the secret:\n%s", stdout.String())
	}
	cfg, _, err := config.Load(config.Sources{Files: []config.FileSource{{Path: filepath.Join(dir, "cajon.toml"), Required: true}}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Manager.URL != "http://flamenco:8080" || cfg.Manager.RestartExitCode != 47 || cfg.Manager.WorkerName != "render-07" {
		t.Errorf("imported config: %+v", cfg.Manager)
	}
	if c, err := worker.LoadCredentials(worker.CredentialsPath(state)); err != nil || c.WorkerID != "0f5e3c2a-8d7b-4c6e-9a1f-2b3c4d5e6f70" {
		t.Errorf("imported credentials: %+v, %v", c, err)
	}

	// Other credentials of Cajon's own stay without --force.
	other := t.TempDir()
	if err := worker.SaveCredentials(worker.CredentialsPath(other), worker.Credentials{WorkerID: "aaaaaaaa-0000-0000-0000-000000000000", Secret: "s"}); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	stderr.Reset()
	if code := runCLI(env, []string{"import", "flamenco-worker", "--state-dir", other, dir}); code != 1 || !strings.Contains(stderr.String(), "--force") {
		t.Errorf("cajon import over other credentials: exit %d, stderr %q; want 1 and a hint at --force", code, stderr.String())
	}
	if code := runCLI(env, []string{"import", "flamenco-worker", "--state-dir", other, "--force", dir}); code != 0 {
		t.Errorf("cajon import --force: exit %d, stderr %q", code, stderr.String())
	}
}

func TestImportUsage(t *testing.T) {
	tests := []struct {
		args     []string
		code     int
		inStderr string
	}{
		{[]string{"import"}, 2, "say what to import"},
		{[]string{"import", "jenkins"}, 2, "only flamenco-worker"},
		{[]string{"import", "flamenco-worker", "a", "b"}, 2, "one folder at most"},
		{[]string{"import", "flamenco-worker", "--credentials", "/nonexistent/creds.yaml", "/nonexistent"}, 1, "no stock worker to take over"},
	}
	for _, tt := range tests {
		var stderr bytes.Buffer
		env := &cliEnv{stdout: &bytes.Buffer{}, stderr: &stderr, environ: []string{"CAJON_STATE_DIR=" + t.TempDir()}}
		if code := runCLI(env, tt.args); code != tt.code || !strings.Contains(stderr.String(), tt.inStderr) {
			t.Errorf("cajon %q: exit %d, stderr %q; want %d and %q", tt.args, code, stderr.String(), tt.code, tt.inStderr)
		}
	}
}

// TestFindManager runs `cajon find-manager` against a Manager's SSDP answer
// from a responder on loopback (real UDP), as CI has no Manager.
func TestFindManager(t *testing.T) {
	mgr := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"version":"3.8.5","shortversion":"3.8","name":"fake","git":"v3.8.5"}`)
	}))
	defer mgr.Close()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			if strings.HasPrefix(string(buf[:n]), "M-SEARCH") {
				_, _ = conn.WriteToUDP([]byte("HTTP/1.1 200 OK\r\nST: urn:flamenco:manager:0\r\nLOCATION: "+mgr.URL+"/upnp/description.xml\r\n\r\n"), from)
			}
		}
	}()
	var stdout, stderr bytes.Buffer
	env := &cliEnv{stdout: &stdout, stderr: &stderr}
	if code := runCLI(env, []string{"find-manager", "--group", conn.LocalAddr().String(), "--timeout", "20s"}); code != 0 || stdout.String() != mgr.URL+"\n" {
		t.Errorf("cajon find-manager: exit %d, stdout %q, want %q; stderr:\n%s", code, stdout.String(), mgr.URL+"\n", stderr.String())
	}
}
