package stockworker

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/cajonfarm/cajon/host/config"
	"github.com/cajonfarm/cajon/host/worker"
	"github.com/pelletier/go-toml/v2"
)

// Options say what to import and where to.
type Options struct {
	// Dir holds the stock worker's flamenco-worker.yaml (its working folder).
	Dir string
	// Credentials is the stock worker's credentials file; "" means where the
	// stock worker keeps it (CredentialsPath with Getenv).
	Credentials string
	// Getenv reads the environment (os.Getenv); it finds the credentials.
	Getenv func(string) string
	// GOOS is the OS whose stock worker's folders are searched (runtime.GOOS).
	GOOS string
	// ConfigFile is the cajon.toml the settings go into; it is created or
	// added to.
	ConfigFile string
	// StateDir is Cajon's state directory: the credentials go there.
	StateDir string
	// Force replaces Cajon credentials that exist already.
	Force bool
}

// Setting is one value taken (or not) from the stock worker.
type Setting struct {
	From  string // the stock worker's key, e.g. "manager_url"
	Key   string // Cajon's key, e.g. "manager.url"
	Value string // as shown to the admin (the secret is never shown)
	// Note says why the value was not written, or "" when it was.
	Note string
}

// Report says what an import took and what it left.
type Report struct {
	StockConfig      string // the flamenco-worker.yaml read, "" when there was none
	StockCredentials string // the credentials file read, "" when there was none
	Settings         []Setting
	ConfigFile       string // the cajon.toml written, "" when nothing needed writing
	Credentials      string // Cajon's credentials file written, "" when not
	WorkerID         string
	// Notes are other things the admin should know.
	Notes []string
}

// Found reports whether dir (or the stock worker's home) holds a stock
// worker's setup to import: flamenco-worker.yaml in dir.
func Found(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, ConfigFile))
	return err == nil
}

// Import reads the stock worker's files and writes what they say into
// Cajon's config file and credentials. It writes nothing when Cajon has
// other credentials already and Force is not set, or when anything cannot
// be read.
func Import(opt Options) (Report, error) {
	var r Report
	cfgPath := filepath.Join(opt.Dir, ConfigFile)
	sc, err := ReadConfig(cfgPath)
	haveConfig := err == nil
	switch {
	case haveConfig:
		r.StockConfig = cfgPath
	case !isNotExist(err):
		return r, err
	}
	credPath := opt.Credentials
	if credPath == "" {
		if credPath, err = CredentialsPath(opt.GOOS, opt.Getenv); err != nil {
			return r, err
		}
	}
	creds, err := ReadCredentials(credPath)
	haveCreds := err == nil
	switch {
	case haveCreds:
		r.StockCredentials = credPath
	case !isNotExist(err):
		return r, err
	}
	if !haveConfig && !haveCreds {
		return r, fmt.Errorf("no stock worker to take over: neither %s nor %s exists", cfgPath, credPath)
	}
	if !haveCreds {
		r.Notes = append(r.Notes, fmt.Sprintf("no stock worker credentials in %s: Cajon registers as a new worker on its first start", credPath))
	}

	// Credentials first, only checked: nothing is written unless all is well.
	cajonCreds := worker.CredentialsPath(opt.StateDir)
	writeCreds := false
	if haveCreds {
		old, err := worker.LoadCredentials(cajonCreds)
		switch {
		case errors.Is(err, worker.ErrNoCredentials):
			writeCreds = true
		case err == nil && old.WorkerID == creds.WorkerID && old.Secret == creds.Secret:
			r.Notes = append(r.Notes, fmt.Sprintf("Cajon's credentials %s are the stock worker's already (worker %s)", cajonCreds, creds.WorkerID))
		case err == nil && !opt.Force:
			return r, fmt.Errorf("Cajon has credentials of its own in %s (worker %s); taking over the stock worker (worker %s) would replace them: give --force to do so, or leave them",
				cajonCreds, old.WorkerID, creds.WorkerID)
		case err != nil && !opt.Force:
			return r, fmt.Errorf("%w; --force replaces them with the stock worker's", err)
		default:
			writeCreds = true
		}
		r.WorkerID = creds.WorkerID
	}

	if haveConfig {
		r.Settings = settingsOf(sc)
		written, err := mergeConfig(opt.ConfigFile, r.Settings, cfgPath)
		if err != nil {
			return r, err
		}
		if written {
			r.ConfigFile = opt.ConfigFile
		}
		for _, st := range r.Settings {
			if st.Key == "manager.url" && haveCreds && strings.HasPrefix(st.Note, "not taken") {
				r.Notes = append(r.Notes, fmt.Sprintf("the stock worker's credentials are for the Manager at %s, but Cajon's config names another: "+
					"if that is another Manager, it does not know worker %s and Cajon registers there as a new worker", st.Value, creds.WorkerID))
			}
		}
	}
	if writeCreds {
		c := worker.Credentials{
			WorkerID: creds.WorkerID, Secret: creds.Secret, Manager: sc.ManagerURL, Name: sc.WorkerName,
			RegisteredAt: time.Now().UTC(), ImportedFrom: creds.Path,
		}
		if err := worker.SaveCredentials(cajonCreds, c); err != nil {
			return r, err
		}
		r.Credentials = cajonCreds
	}
	return r, nil
}

// settingsOf lists what flamenco-worker.yaml sets, as Cajon keys.
func settingsOf(sc Config) []Setting {
	var out []Setting
	add := func(from, key, value, note string) {
		out = append(out, Setting{From: from, Key: key, Value: value, Note: note})
	}
	if sc.ManagerURL != "" {
		add("manager_url", "manager.url", sc.ManagerURL, "")
	} else {
		add("manager_url", "manager.url", "", "not set: Cajon finds the Manager on the network (SSDP), as the stock worker does")
	}
	if sc.WorkerName != "" {
		add("worker_name", "manager.worker_name", sc.WorkerName, "")
	} else {
		add("worker_name", "manager.worker_name", "", "not set: the name is FLAMENCO_WORKER_NAME or the host name, as for the stock worker")
	}
	if sc.TaskTypes != nil {
		add("task_types", "task_types", strings.Join(sc.TaskTypes, ", "), "")
	} else {
		add("task_types", "task_types", "", "not set: Cajon asks for every task type its plugins provide")
	}
	switch code := sc.RestartExitCode; {
	case code == 0:
	case code == 1 || code == 2 || code < 0 || code > 255:
		add("restart_exit_code", "manager.restart_exit_code", strconv.Itoa(code),
			"not taken: Cajon exits 1 on errors and 2 on bad usage, and exit codes are 0 to 255; choose 3 to 255, set it as manager.restart_exit_code and in the supervisor (systemd RestartForceExitStatus)")
	default:
		add("restart_exit_code", "manager.restart_exit_code", strconv.Itoa(code), "")
	}
	if sc.OOMScoreAdjust != nil {
		add("oom_score_adjust", "oom_score_adjust", strconv.Itoa(*sc.OOMScoreAdjust), "")
	}
	for _, k := range sc.Ignored {
		add(k, "", "", "not a setting of the stock worker: ignored, as the stock worker ignores it")
	}
	return out
}

// tomlValue is a setting's value as TOML.
func tomlValue(s Setting) (string, error) {
	var v any = s.Value
	switch s.Key {
	case "task_types":
		v = strings.Split(s.Value, ", ")
	case "manager.restart_exit_code", "oom_score_adjust":
		n, err := strconv.Atoi(s.Value)
		if err != nil {
			return "", err
		}
		v = n
	}
	data, err := toml.Marshal(map[string]any{"v": v})
	if err != nil {
		return "", fmt.Errorf("encode %s for cajon.toml: %w", s.Key, err)
	}
	_, val, _ := strings.Cut(strings.TrimSpace(string(data)), "=")
	return strings.TrimSpace(val), nil
}

// managerHeader finds the [manager] table header of a cajon.toml.
var managerHeader = regexp.MustCompile(`(?m)^[ \t]*\[[ \t]*manager[ \t]*\][ \t]*(#.*)?\r?\n`)

// mergeConfig adds the settings to the cajon.toml at path, creating it when
// missing. A key the file sets already keeps its value (the setting gets a
// note). The result is loaded as Cajon would before it replaces the file.
// It reports whether it wrote the file.
func mergeConfig(path string, settings []Setting, from string) (bool, error) {
	old, err := os.ReadFile(path)
	if err != nil && !isNotExist(err) {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	var existing map[string]any
	if err := toml.Unmarshal(old, &existing); err != nil {
		return false, fmt.Errorf("%s is not valid TOML, so the stock worker's settings cannot be added to it: %w", path, err)
	}
	var top, mgr []string
	for i := range settings {
		s := &settings[i]
		if s.Note != "" || s.Key == "" {
			continue
		}
		if v, ok := lookup(existing, s.Key); ok {
			if fmt.Sprint(v) != fmt.Sprint(valueForCompare(*s)) {
				s.Note = fmt.Sprintf("not taken: %s sets %s already (%v); it stays", path, s.Key, v)
			} else {
				s.Note = "already in " + path
			}
			continue
		}
		val, err := tomlValue(*s)
		if err != nil {
			return false, err
		}
		if name, ok := strings.CutPrefix(s.Key, "manager."); ok {
			mgr = append(mgr, name+" = "+val)
		} else {
			top = append(top, s.Key+" = "+val)
		}
	}
	if len(top) == 0 && len(mgr) == 0 {
		return false, nil
	}
	stamp := fmt.Sprintf("# Taken from the stock Flamenco worker's %s by 'cajon import flamenco-worker' on %s.\n",
		from, time.Now().UTC().Format(time.DateOnly))
	text := string(old)
	if len(mgr) > 0 {
		lines := strings.Join(mgr, "\n") + "\n"
		if loc := managerHeader.FindStringIndex(text); loc != nil {
			text = text[:loc[1]] + stamp + lines + text[loc[1]:]
		} else {
			if text != "" && !strings.HasSuffix(text, "\n") {
				text += "\n"
			}
			if text != "" {
				text += "\n"
			}
			text += "[manager]\n" + stamp + lines
		}
	}
	if len(top) > 0 {
		// Top-level keys go before the first table: at the very start.
		text = stamp + strings.Join(top, "\n") + "\n\n" + text
	}
	var byHand strings.Builder
	if len(top) > 0 {
		byHand.WriteString(strings.Join(top, "\n") + "\n")
	}
	if len(mgr) > 0 {
		byHand.WriteString("[manager]\n" + strings.Join(mgr, "\n") + "\n")
	}
	return true, writeChecked(path, []byte(text), byHand.String())
}

// valueForCompare is a setting's value in the form go-toml decodes it.
func valueForCompare(s Setting) any {
	switch s.Key {
	case "task_types":
		parts := strings.Split(s.Value, ", ")
		out := make([]any, len(parts))
		for i, p := range parts {
			out[i] = p
		}
		return out
	case "manager.restart_exit_code", "oom_score_adjust":
		n, _ := strconv.ParseInt(s.Value, 10, 64)
		return n
	}
	return s.Value
}

// lookup finds a dotted key in a decoded TOML document.
func lookup(doc map[string]any, key string) (any, bool) {
	cur := any(doc)
	for _, part := range strings.Split(key, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// writeChecked replaces path with data after checking that Cajon loads it;
// added is what the import adds, for the admin to add by hand when the
// result does not load.
func writeChecked(path string, data []byte, added string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, ".cajon-toml-*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if _, _, err := config.Load(config.Sources{Files: []config.FileSource{{Path: tmp.Name(), Required: true}}}); err != nil {
		return fmt.Errorf("the stock worker's settings would make %s invalid, so it was left as it was; add them by hand:\n%s%w", path, added, err)
	}
	if fi, err := os.Stat(path); err == nil {
		_ = os.Chmod(tmp.Name(), fi.Mode().Perm())
	} else {
		_ = os.Chmod(tmp.Name(), 0o644)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
