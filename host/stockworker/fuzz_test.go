package stockworker

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzReadFiles reads arbitrary bytes as both stock worker files: errors
// are fine, panics and out-of-range values are not.
func FuzzReadFiles(f *testing.F) {
	for _, dir := range []string{"full", "bad-yaml", "bad-types", "creds-not-yaml"} {
		for _, name := range []string{ConfigFile, CredentialsFile} {
			if data, err := os.ReadFile(filepath.Join("testdata", dir, name)); err == nil {
				f.Add(data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "f.yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if c, err := ReadConfig(path); err == nil {
			if c.OOMScoreAdjust != nil && (*c.OOMScoreAdjust < -1000 || *c.OOMScoreAdjust > 1000) {
				t.Fatalf("accepted oom_score_adjust %d", *c.OOMScoreAdjust)
			}
			if c.ManagerURL != "" {
				if _, err := ManagerURL(c.ManagerURL); err != nil {
					t.Fatalf("accepted manager_url %q that does not read back: %v", c.ManagerURL, err)
				}
			}
		}
		if c, err := ReadCredentials(path); err == nil && (!uuidPattern.MatchString(c.WorkerID) || c.Secret == "") {
			t.Fatalf("accepted credentials %+v", c)
		}
	})
}
