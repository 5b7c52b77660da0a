package worker

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"time"
)

// Credentials are what the worker got from registering: its id on the
// Manager and the secret it registered with. They are the HTTP Basic
// credentials of every later request.
type Credentials struct {
	WorkerID string `json:"worker_id"`
	Secret   string `json:"secret"`
	// Manager and Name are the Manager URL and worker name at registration,
	// for people reading the file.
	Manager      string    `json:"manager"`
	Name         string    `json:"name"`
	RegisteredAt time.Time `json:"registered_at"`
	// ImportedFrom names the stock worker's credentials file these came
	// from (cajon import flamenco-worker); empty when Cajon registered.
	ImportedFrom string `json:"imported_from,omitempty"`
}

// ErrNoCredentials is wrapped by LoadCredentials when the file does not exist.
var ErrNoCredentials = errors.New("no worker credentials")

// LoadCredentials reads a credentials file. A file readable by others than
// its owner is made private again (mode 0600).
func LoadCredentials(path string) (Credentials, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Credentials{}, fmt.Errorf("%w: %s does not exist", ErrNoCredentials, path)
	}
	if err != nil {
		return Credentials{}, fmt.Errorf("read worker credentials %s: %w", path, err)
	}
	var c Credentials
	if err := json.Unmarshal(data, &c); err != nil {
		return Credentials{}, fmt.Errorf("worker credentials %s are not valid JSON: %w", path, err)
	}
	if c.WorkerID == "" || c.Secret == "" {
		return Credentials{}, fmt.Errorf("worker credentials %s lack worker_id or secret", path)
	}
	if runtime.GOOS != "windows" {
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(path, 0o600); err != nil {
				return Credentials{}, fmt.Errorf("worker credentials %s are readable by other users (mode %v) and cannot be made private: %w", path, fi.Mode().Perm(), err)
			}
		}
	}
	return c, nil
}

// SaveCredentials writes c to path with mode 0600, atomically: a crash leaves
// the old file or the new one, never half of one.
func SaveCredentials(path string, c Credentials) error {
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("encode worker credentials: %w", err)
	}
	data = append(data, '\n')
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save worker credentials: create %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, ".credentials-*.tmp")
	if err != nil {
		return fmt.Errorf("save worker credentials in %s: %w", dir, err)
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	if err := tmp.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		tmp.Close()
		return fmt.Errorf("save worker credentials: chmod %s: %w", tmp.Name(), err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("save worker credentials: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save worker credentials: sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save worker credentials: close %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save worker credentials to %s: %w", path, err)
	}
	return nil
}

// newSecret returns a random secret for registration.
func newSecret() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("worker: no randomness for the worker secret: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}
