package plugins

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	goplugin "github.com/hashicorp/go-plugin"
)

// A plugin runs with the worker's rights, so whoever can replace its binary
// can run code as the worker (often root). Like ssh's StrictModes, a plugin
// is refused when its binary, or the folder it is in, is writable by group
// or others or owned by someone other than root or the user running cajon.
// Only the binary and its own folder are checked, not every folder up to /
// (ssh checks up to the home folder): a plugin folder inside /tmp is fine
// as long as that folder itself is safe. Where the binary is a symbolic link,
// the link's folder and the file it points to with its folder are checked.
//
// An optional allowlist of sha256 digests (plugins.sha256) pins the exact
// binaries: a plugin not in it, or whose digest differs, is refused. It is
// checked when the registry opens and again by go-plugin's SecureConfig just
// before each start.

// checkPlugin says why a plugin must not run, or nil.
func checkPlugin(c candidate, digests map[string]string) error {
	if err := checkFileModes(c.path); err != nil {
		return err
	}
	if len(digests) == 0 {
		return nil
	}
	want, err := wantedDigest(c.name, digests)
	if err != nil {
		return err
	}
	got, err := fileDigest(c.path)
	if err != nil {
		return fmt.Errorf("plugin %s: %w", c.name, err)
	}
	if !strings.EqualFold(got, hex.EncodeToString(want)) {
		return digestMismatch(c.name, c.path, got)
	}
	return nil
}

// checkFileModes refuses a binary that others than root or us could replace.
func checkFileModes(path string) error {
	paths := []string{path, filepath.Dir(path)}
	if real, err := filepath.EvalSymlinks(path); err == nil && real != path {
		paths = append(paths, real, filepath.Dir(real))
	}
	for i, p := range paths {
		what := "binary"
		if i%2 == 1 {
			what = "folder"
		}
		if err := checkOwnerAndMode(p, what, path); err != nil {
			return err
		}
	}
	return nil
}

// wantedDigest is the allowlisted digest of a plugin.
func wantedDigest(name string, digests map[string]string) ([]byte, error) {
	text, ok := digests[name]
	if !ok {
		return nil, fmt.Errorf("plugin %s is not in the plugins.sha256 allowlist; if it is trusted, add its digest (cajon plugins verify prints it)", name)
	}
	want, err := hex.DecodeString(strings.TrimSpace(text))
	if err != nil || len(want) != sha256.Size {
		return nil, fmt.Errorf("plugins.sha256.%s = %q is not a sha256 digest (64 hexadecimal digits)", name, text)
	}
	return want, nil
}

// secureConfig makes go-plugin check the binary's digest just before it
// starts it; nil when there is no allowlist.
func secureConfig(name string, digests map[string]string) (*goplugin.SecureConfig, error) {
	if len(digests) == 0 {
		return nil, nil
	}
	want, err := wantedDigest(name, digests)
	if err != nil {
		return nil, err
	}
	return &goplugin.SecureConfig{Checksum: want, Hash: sha256.New()}, nil
}

// digestMismatch is the error for a binary whose digest is not the pinned one.
func digestMismatch(name, path, got string) error {
	return fmt.Errorf("plugin binary %s does not match plugins.sha256.%s (its sha256 is %s): it was changed since it was pinned; if the new binary is trusted, set plugins.sha256.%s = %q",
		path, name, got, name, got)
}

// checksumRefusal explains a start that go-plugin's SecureConfig refused.
func checksumRefusal(name, path string) error {
	got, derr := fileDigest(path)
	if derr != nil {
		return fmt.Errorf("plugin binary %s does not match plugins.sha256.%s", path, name)
	}
	return digestMismatch(name, path, got)
}

// fileDigest is the hex sha256 of a file.
func fileDigest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Verdict is what `cajon plugins verify` says about one plugin binary.
type Verdict struct {
	Name, Path string
	// SHA256 is the binary's digest in hex ("" when it cannot be read).
	SHA256 string
	// Pinned is true when plugins.sha256 lists the plugin.
	Pinned bool
	// Refused says why the plugin would not run; nil when it would.
	Refused error
}

// Verify judges every plugin binary found in dirs, as Open would, without
// starting any. It also returns the discovery notes, and one note for each
// allowlisted name that no binary has.
func Verify(dirs []string, digests map[string]string) ([]Verdict, []string) {
	found, notes := discover(dirs)
	seen := map[string]bool{}
	out := make([]Verdict, 0, len(found))
	for _, c := range found {
		seen[c.name] = true
		v := Verdict{Name: c.name, Path: c.path, Refused: checkPlugin(c, digests)}
		_, v.Pinned = digests[c.name]
		if d, err := fileDigest(c.path); err == nil {
			v.SHA256 = d
		} else if v.Refused == nil {
			v.Refused = err
		}
		out = append(out, v)
	}
	return out, append(notes, missingPinned(digests, seen)...)
}

// missingPinned notes the allowlisted plugins that were not found.
func missingPinned(digests map[string]string, seen map[string]bool) []string {
	var notes []string
	for name := range digests {
		if !seen[name] {
			notes = append(notes, fmt.Sprintf("plugins.sha256 lists plugin %s, but no cajon-plugin-%s was found", name, name))
		}
	}
	sort.Strings(notes)
	return notes
}
