// Package stockworker takes over the setup of a stock Flamenco 3 worker
// (flamenco-worker): it reads its flamenco-worker.yaml and its credentials
// file, where the stock worker keeps them, and carries what they say into
// Cajon's cajon.toml and credentials, so that the node keeps its identity on
// the Manager (worker id, name, tags, history).
package stockworker

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// File names the stock worker uses.
const (
	// ConfigFile is read from the stock worker's working folder.
	ConfigFile = "flamenco-worker.yaml"
	// CredentialsFile lives in the stock worker's home (CredentialsPath).
	CredentialsFile = "flamenco-worker-credentials.yaml"
)

// maxFileBytes bounds what is read of either file: both are a few lines.
const maxFileBytes = 1 << 20

// Config is what Cajon takes from flamenco-worker.yaml. Unset keys are zero
// (nil for the lists and pointers).
type Config struct {
	Path       string
	WorkerName string
	// ManagerURL is manager_url made absolute as the stock worker reads it
	// ("manager:8080" is http://manager:8080); empty means autodiscovery.
	ManagerURL      string
	TaskTypes       []string // nil: not set (the stock default)
	RestartExitCode int
	OOMScoreAdjust  *int
	// Ignored are keys of the file that are not the stock worker's settings
	// (it ignores them too), sorted.
	Ignored []string
}

// stockConfig is the file's shape, as the stock worker 3.x decodes it.
type stockConfig struct {
	WorkerName      string    `yaml:"worker_name"`
	ManagerURL      string    `yaml:"manager_url"`
	TaskTypes       *[]string `yaml:"task_types"`
	RestartExitCode int       `yaml:"restart_exit_code"`
	OOMScoreAdjust  *int      `yaml:"oom_score_adjust"`
}

var stockConfigKeys = map[string]bool{"worker_name": true, "manager_url": true, "task_types": true, "restart_exit_code": true, "oom_score_adjust": true}

// ReadConfig reads a flamenco-worker.yaml. A missing file is an error
// wrapping fs.ErrNotExist; an empty one is the stock worker's defaults.
func ReadConfig(path string) (Config, error) {
	data, err := readSmall(path)
	if err != nil {
		return Config{}, err
	}
	c := Config{Path: path}
	var sc stockConfig
	if err := decodeYAML(data, &sc); err != nil {
		return Config{}, fmt.Errorf("the stock worker's config %s: %w", path, err)
	}
	var keys map[string]any
	_ = decodeYAML(data, &keys) // it decoded as a mapping above
	for k := range keys {
		if !stockConfigKeys[k] {
			c.Ignored = append(c.Ignored, k)
		}
	}
	sort.Strings(c.Ignored)
	c.WorkerName = strings.TrimSpace(sc.WorkerName)
	if raw := strings.TrimSpace(sc.ManagerURL); raw != "" {
		u, err := ManagerURL(raw)
		if err != nil {
			return Config{}, fmt.Errorf("the stock worker's config %s: manager_url: %w", path, err)
		}
		c.ManagerURL = u
	}
	if sc.TaskTypes != nil {
		c.TaskTypes = []string{}
		for _, t := range *sc.TaskTypes {
			if t = strings.TrimSpace(t); t != "" {
				c.TaskTypes = append(c.TaskTypes, t)
			}
		}
	}
	c.RestartExitCode = sc.RestartExitCode
	if v := sc.OOMScoreAdjust; v != nil && (*v < -1000 || *v > 1000) {
		return Config{}, fmt.Errorf("the stock worker's config %s: oom_score_adjust %d: the kernel takes -1000 to 1000", path, *v)
	}
	c.OOMScoreAdjust = sc.OOMScoreAdjust
	return c, nil
}

// Credentials are the stock worker's identity on its Manager.
type Credentials struct {
	Path     string
	WorkerID string
	Secret   string
}

// uuidPattern is the form of the worker ids a Flamenco Manager hands out.
var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// ReadCredentials reads a flamenco-worker-credentials.yaml. A missing file
// is an error wrapping fs.ErrNotExist.
func ReadCredentials(path string) (Credentials, error) {
	data, err := readSmall(path)
	if err != nil {
		return Credentials{}, err
	}
	var sc struct {
		WorkerID string `yaml:"worker_id"`
		Secret   string `yaml:"worker_secret"`
	}
	if err := decodeYAML(data, &sc); err != nil {
		return Credentials{}, fmt.Errorf("the stock worker's credentials %s: %w", path, err)
	}
	c := Credentials{Path: path, WorkerID: strings.TrimSpace(sc.WorkerID), Secret: sc.Secret}
	switch {
	case c.WorkerID == "" || c.Secret == "":
		return Credentials{}, fmt.Errorf("the stock worker's credentials %s lack worker_id or worker_secret: the stock worker would register anew, and so will Cajon (remove the file, or let the stock worker run once)", path)
	case !uuidPattern.MatchString(c.WorkerID):
		return Credentials{}, fmt.Errorf("the stock worker's credentials %s: worker_id %q is not a worker id (a UUID) of a Flamenco Manager", path, c.WorkerID)
	}
	return c, nil
}

// readSmall reads a file of at most maxFileBytes.
func readSmall(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err // names the path; wraps fs.ErrNotExist when missing
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxFileBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes: not a flamenco-worker file", path, maxFileBytes)
	}
	return data, nil
}

// decodeYAML decodes one YAML document; an empty one leaves out as it is,
// as the stock worker treats an empty file like a missing one.
func decodeYAML(data []byte, out any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(out); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("not valid YAML for the stock worker: %w", err)
	}
	return nil
}

// ManagerURL reads a Manager URL as the stock worker does (-manager and
// manager_url): a bare host or host:port means http, the path is kept.
func ManagerURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("%q is not a URL: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("%q: the scheme must be http or https", raw)
	}
	if u.Hostname() == "" {
		return "", fmt.Errorf("%q has no host name", raw)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return u.String(), nil
}

// CredentialsPath is where the stock worker keeps its credentials, for an
// OS and environment: $FLAMENCO_HOME when set, otherwise its XDG data
// folder (~/.local/share/flamenco on Linux, ~/Library/Application
// Support/Flamenco on macOS, %LOCALAPPDATA%\Blender Foundation\Flamenco on
// Windows).
func CredentialsPath(goos string, getenv func(string) string) (string, error) {
	if home := getenv("FLAMENCO_HOME"); home != "" {
		return filepath.Join(home, CredentialsFile), nil
	}
	var dir string
	switch goos {
	case "windows":
		if d := getenv("LOCALAPPDATA"); d != "" {
			dir = filepath.Join(d, "Blender Foundation", "Flamenco")
		}
	case "darwin":
		if h := getenv("HOME"); h != "" {
			dir = filepath.Join(h, "Library", "Application Support", "Flamenco")
		}
	default:
		if d := getenv("XDG_DATA_HOME"); filepath.IsAbs(d) {
			dir = filepath.Join(d, "flamenco")
		} else if h := getenv("HOME"); h != "" {
			dir = filepath.Join(h, ".local", "share", "flamenco")
		}
	}
	if dir == "" {
		return "", errors.New("cannot tell where the stock worker keeps its credentials: FLAMENCO_HOME and the home folder are unset (give the file with --credentials)")
	}
	return filepath.Join(dir, CredentialsFile), nil
}

// isNotExist reports a missing file.
func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
