package stockworker

import (
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/host/config"
	"github.com/cajonfarm/cajon/host/worker"
)

func fixture(dir string) string { return filepath.Join("testdata", dir) }

func TestReadConfig(t *testing.T) {
	five := 500
	tests := []struct {
		dir     string
		want    Config
		wantErr string // part of the error; "" for none
	}{
		{dir: "full", want: Config{
			WorkerName: "render-07", ManagerURL: "http://flamenco.farm.lan:8080",
			TaskTypes:       []string{"blender", "ffmpeg", "file-management", "misc", "blender-gpu"},
			RestartExitCode: 47, OOMScoreAdjust: &five, Ignored: []string{"color"},
		}},
		{dir: "bare-host", want: Config{ManagerURL: "http://flamenco:8080"}},
		{dir: "empty", want: Config{}},
		{dir: "bad-yaml", wantErr: "not valid YAML"},
		{dir: "bad-types", wantErr: "not valid YAML"},
		{dir: "bad-oom", wantErr: "oom_score_adjust 5000"},
		{dir: "bad-url", wantErr: "manager_url"},
		{dir: "creds-bad-id", wantErr: "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			path := filepath.Join(fixture(tt.dir), ConfigFile)
			got, err := ReadConfig(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path) {
					t.Fatalf("ReadConfig: %v, want an error naming %s and %q", err, path, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.want.Path = path
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ReadConfig:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestReadCredentials(t *testing.T) {
	tests := []struct {
		dir, wantID, wantErr string
	}{
		{"full", "2b9a8c4e-1f3d-4e5a-9b7c-0d1e2f3a4b5c", ""},
		{"creds-no-secret", "", "lack worker_id or worker_secret"},
		{"creds-bad-id", "", "is not a worker id"},
		{"creds-not-yaml", "", "not valid YAML"},
		{"empty", "", "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			path := filepath.Join(fixture(tt.dir), CredentialsFile)
			got, err := ReadCredentials(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path) {
					t.Fatalf("ReadCredentials: %v, want an error naming %s and %q", err, path, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.WorkerID != tt.wantID || len(got.Secret) != 64 {
				t.Errorf("ReadCredentials = %+v", got)
			}
		})
	}
}

func TestManagerURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"flamenco", "http://flamenco"},
		{"flamenco:8080", "http://flamenco:8080"},
		{"http://10.0.0.5:8080/", "http://10.0.0.5:8080"},
		{"https://farm.example/flamenco/", "https://farm.example/flamenco"},
		{" http://m:1 ", "http://m:1"},
		{"ftp://m", ""},
		{"http://", ""},
		{"http://m:x/", ""},
	}
	for _, tt := range tests {
		got, err := ManagerURL(tt.in)
		if got != tt.want || (tt.want == "") != (err != nil) {
			t.Errorf("ManagerURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestCredentialsPath(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	tests := []struct {
		goos string
		env  func(string) string
		want string // "" for an error
	}{
		{"linux", env("HOME", "/home/r"), "/home/r/.local/share/flamenco/flamenco-worker-credentials.yaml"},
		{"linux", env("HOME", "/home/r", "XDG_DATA_HOME", "/data"), "/data/flamenco/flamenco-worker-credentials.yaml"},
		{"linux", env("HOME", "/home/r", "XDG_DATA_HOME", "relative"), "/home/r/.local/share/flamenco/flamenco-worker-credentials.yaml"},
		{"linux", env("HOME", "/home/r", "FLAMENCO_HOME", "/opt/fw"), "/opt/fw/flamenco-worker-credentials.yaml"},
		{"darwin", env("HOME", "/Users/r"), "/Users/r/Library/Application Support/Flamenco/flamenco-worker-credentials.yaml"},
		{"windows", env("LOCALAPPDATA", "/c/Users/r/AppData/Local"), "/c/Users/r/AppData/Local/Blender Foundation/Flamenco/flamenco-worker-credentials.yaml"},
		{"linux", env(), ""},
	}
	for _, tt := range tests {
		got, err := CredentialsPath(tt.goos, tt.env)
		if filepath.ToSlash(got) != tt.want || (tt.want == "") != (err != nil) {
			t.Errorf("CredentialsPath(%s) = %q, %v; want %q", tt.goos, got, err, tt.want)
		}
	}
}

// takeover is one import into a fresh Cajon setup: dir is a copy of a
// fixture, the state dir and cajon.toml are the test's own.
type takeover struct {
	opt      Options
	cajonTOM string
}

func newTakeover(t *testing.T, fixtureDir string) *takeover {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(fixture(fixtureDir))); err != nil {
		t.Fatal(err)
	}
	return &takeover{opt: Options{
		Dir: dir, Credentials: filepath.Join(dir, CredentialsFile), GOOS: runtime.GOOS,
		Getenv: func(string) string { return "" }, ConfigFile: filepath.Join(dir, "cajon.toml"),
		StateDir: filepath.Join(t.TempDir(), "state"),
	}, cajonTOM: filepath.Join(dir, "cajon.toml")}
}

func (tk *takeover) load(t *testing.T) *config.Config {
	t.Helper()
	cfg, _, err := config.Load(config.Sources{Files: []config.FileSource{{Path: tk.cajonTOM, Required: true}}})
	if err != nil {
		t.Fatalf("the written cajon.toml does not load: %v", err)
	}
	return cfg
}

func TestImportFull(t *testing.T) {
	tk := newTakeover(t, "full")
	r, err := Import(tk.opt)
	if err != nil {
		t.Fatal(err)
	}
	cfg := tk.load(t)
	if cfg.Manager.URL != "http://flamenco.farm.lan:8080" || cfg.Manager.WorkerName != "render-07" ||
		cfg.Manager.RestartExitCode != 47 || cfg.OOMScoreAdjust != 500 ||
		!reflect.DeepEqual(cfg.TaskTypes, []string{"blender", "ffmpeg", "file-management", "misc", "blender-gpu"}) {
		t.Errorf("imported config: %+v", cfg)
	}
	credPath := worker.CredentialsPath(tk.opt.StateDir)
	c, err := worker.LoadCredentials(credPath)
	if err != nil {
		t.Fatal(err)
	}
	if c.WorkerID != "2b9a8c4e-1f3d-4e5a-9b7c-0d1e2f3a4b5c" || c.Secret != strings.Repeat("8f1e2d3c4b5a69788796a5b4c3d2e1f0", 2) || c.ImportedFrom != tk.opt.Credentials {
		t.Errorf("imported credentials: %+v", c)
	}
	if fi, err := os.Stat(credPath); err != nil || (runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600) {
		t.Errorf("credentials file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	if r.ConfigFile != tk.cajonTOM || r.Credentials != credPath || r.WorkerID != c.WorkerID {
		t.Errorf("report: %+v", r)
	}
	var notes []string
	for _, s := range r.Settings {
		if s.Note != "" {
			notes = append(notes, s.From)
		}
	}
	if !reflect.DeepEqual(notes, []string{"color"}) {
		t.Errorf("settings with notes %v, want only the unknown key color: %+v", notes, r.Settings)
	}

	// Again: nothing to do, and nothing is refused.
	before, _ := os.ReadFile(tk.cajonTOM)
	r, err = Import(tk.opt)
	if err != nil {
		t.Fatalf("importing again: %v", err)
	}
	after, _ := os.ReadFile(tk.cajonTOM)
	if r.ConfigFile != "" || r.Credentials != "" || string(before) != string(after) {
		t.Errorf("importing again wrote %q and %q", r.ConfigFile, r.Credentials)
	}
}

func TestImportNeverOverwritesCredentialsWithoutForce(t *testing.T) {
	tk := newTakeover(t, "full")
	credPath := worker.CredentialsPath(tk.opt.StateDir)
	own := worker.Credentials{WorkerID: "11111111-2222-3333-4444-555555555555", Secret: "own"}
	if err := worker.SaveCredentials(credPath, own); err != nil {
		t.Fatal(err)
	}
	_, err := Import(tk.opt)
	if err == nil || !strings.Contains(err.Error(), "--force") || !strings.Contains(err.Error(), own.WorkerID) {
		t.Fatalf("import over Cajon's own credentials: %v, want a refusal naming them and --force", err)
	}
	if c, _ := worker.LoadCredentials(credPath); c.WorkerID != own.WorkerID {
		t.Errorf("the credentials were replaced: %+v", c)
	}
	if _, err := os.Stat(tk.cajonTOM); !os.IsNotExist(err) {
		t.Errorf("a refused import wrote cajon.toml: %v", err)
	}

	tk.opt.Force = true
	if _, err := Import(tk.opt); err != nil {
		t.Fatal(err)
	}
	if c, _ := worker.LoadCredentials(credPath); c.WorkerID != "2b9a8c4e-1f3d-4e5a-9b7c-0d1e2f3a4b5c" {
		t.Errorf("--force kept the old credentials: %+v", c)
	}
}

func TestImportIntoExistingConfig(t *testing.T) {
	tests := []struct {
		name     string
		existing string
		check    func(t *testing.T, cfg *config.Config)
		wantErr  string
	}{
		{"other tables; the file's url stays", "# mine\nlog_level = \"debug\"\n\n[manager]\nurl = \"http://other:8080\"\n\n[local]\nslots = 2\n",
			func(t *testing.T, cfg *config.Config) {
				if cfg.Manager.URL != "http://other:8080" || cfg.Manager.WorkerName != "render-07" || cfg.LogLevel != "debug" ||
					cfg.Local.Slots != 2 || cfg.OOMScoreAdjust != 500 || len(cfg.TaskTypes) != 5 {
					t.Errorf("merged config: %+v", cfg)
				}
			}, ""},
		{"no manager table", "[local]\nslots = 3",
			func(t *testing.T, cfg *config.Config) {
				if cfg.Manager.URL != "http://flamenco.farm.lan:8080" || cfg.Local.Slots != 3 {
					t.Errorf("merged config: %+v", cfg)
				}
			}, ""},
		{"an inline manager table cannot take more keys", "manager = { url = \"http://other:8080\" }\n", nil, "left as it was"},
		{"not TOML", "[manager\n", nil, "not valid TOML"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tk := newTakeover(t, "full")
			if err := os.WriteFile(tk.cajonTOM, []byte(tt.existing), 0o640); err != nil {
				t.Fatal(err)
			}
			_, err := Import(tk.opt)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Import: %v, want %q", err, tt.wantErr)
				}
				if got, _ := os.ReadFile(tk.cajonTOM); string(got) != tt.existing {
					t.Errorf("cajon.toml changed after a failed import:\n%s", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			r, _ := Import(tk.opt) // again: reports the same
			if tt.name == "other tables; the file's url stays" && !strings.Contains(strings.Join(r.Notes, "\n"), "credentials are for the Manager at http://flamenco.farm.lan:8080") {
				t.Errorf("no note that the credentials belong to another Manager: %q", r.Notes)
			}
			tt.check(t, tk.load(t))
			if fi, _ := os.Stat(tk.cajonTOM); fi.Mode().Perm() != 0o640 && runtime.GOOS != "windows" {
				t.Errorf("cajon.toml mode %v, want its old 0640", fi.Mode().Perm())
			}
		})
	}
}

func TestImportNotes(t *testing.T) {
	// restart_exit_code 1 cannot be Cajon's; no credentials file at all.
	tk := newTakeover(t, "restart-1")
	r, err := Import(tk.opt)
	if err != nil {
		t.Fatal(err)
	}
	cfg := tk.load(t)
	if cfg.Manager.RestartExitCode != 0 || cfg.Manager.WorkerName != "node-1" {
		t.Errorf("config: %+v", cfg)
	}
	var restartNote string
	for _, s := range r.Settings {
		if s.From == "restart_exit_code" {
			restartNote = s.Note
		}
	}
	if !strings.Contains(restartNote, "not taken") || r.Credentials != "" || len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "registers as a new worker") {
		t.Errorf("report: %+v", r)
	}
}

func TestImportErrors(t *testing.T) {
	tests := []struct{ dir, wantErr string }{
		{"creds-no-secret", "lack worker_id or worker_secret"},
		{"bad-yaml", "not valid YAML"},
		{"bad-types", "not valid YAML"},
		{"bad-oom", "oom_score_adjust"},
		{"bad-url", "manager_url"},
	}
	tk := newTakeover(t, "empty")
	os.Remove(filepath.Join(tk.opt.Dir, ConfigFile))
	if _, err := Import(tk.opt); err == nil || !strings.Contains(err.Error(), "no stock worker to take over") {
		t.Errorf("import of nothing: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			tk := newTakeover(t, tt.dir)
			_, err := Import(tk.opt)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Import: %v, want %q", err, tt.wantErr)
			}
			if _, err := os.Stat(tk.cajonTOM); !os.IsNotExist(err) {
				t.Errorf("a failed import wrote cajon.toml")
			}
			if _, err := os.Stat(worker.CredentialsPath(tk.opt.StateDir)); !os.IsNotExist(err) {
				t.Errorf("a failed import wrote credentials")
			}
		})
	}
}
