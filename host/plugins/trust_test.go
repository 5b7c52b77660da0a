package plugins_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/host/plugins"
)

// placePlugin copies the exec plugin into a new folder of the given mode,
// with the given mode itself, and returns the binary's path.
func placePlugin(t *testing.T, dirMode, binMode os.FileMode) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "plugins")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "cajon-plugin-exec")
	copyFile(t, filepath.Join(binDir, "plugins", "cajon-plugin-exec"), bin)
	if err := os.Chmod(bin, binMode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, dirMode); err != nil {
		t.Fatal(err)
	}
	return bin
}

func digestOf(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func TestUnsafePluginFilesAreRefused(t *testing.T) {
	cases := []struct {
		name             string
		dirMode, binMode os.FileMode
		want             string // "" = runs; %s is the binary, %d its folder
	}{
		{"safe", 0o755, 0o755, ""},
		{"private folder", 0o700, 0o700, ""},
		{"binary writable by all", 0o755, 0o777, "plugin binary %s is writable by group and others (mode -rwxrwxrwx), so others could put their own code in it; fix: chmod go-w %s"},
		{"binary writable by its group", 0o755, 0o775, "plugin binary %s is writable by its group"},
		{"folder writable by others", 0o757, 0o755, "plugin folder %d (of plugin %s) is writable by others (mode drwxr-xrwx)"},
		{"sticky folder like /tmp", os.ModeSticky | 0o777, 0o755, "plugin folder %d (of plugin %s) is writable by group and others (mode dtrwxrwxrwx), so others could put their own code in it; fix: chmod go-w %d"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bin := placePlugin(t, tc.dirMode, tc.binMode)
			reg := open(t, []string{filepath.Dir(bin)})
			_, runs := reg.Command("echo")
			notes := strings.Join(reg.Notes(), "\n")
			if tc.want == "" {
				if !runs || notes != "" {
					t.Fatalf("a safe plugin was refused: %s", notes)
				}
				return
			}
			want := strings.NewReplacer("%s", bin, "%d", filepath.Dir(bin)).Replace(tc.want)
			if runs || !strings.Contains(notes, want) {
				t.Fatalf("runs %v, notes:\n%s\nwant a note saying:\n%s", runs, notes, want)
			}
		})
	}
}

func TestPluginOwnedByAnotherUserIsRefused(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to give the binary to another user")
	}
	bin := placePlugin(t, 0o755, 0o755)
	if err := os.Chown(bin, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	reg := open(t, []string{filepath.Dir(bin)})
	notes := strings.Join(reg.Notes(), "\n")
	if _, runs := reg.Command("echo"); runs || !strings.Contains(notes, "plugin binary "+bin+" is owned by") ||
		!strings.Contains(notes, "uid 65534") || !strings.Contains(notes, "fix: chown root "+bin) {
		t.Fatalf("notes:\n%s", notes)
	}
}

// A safe link into an unsafe folder is still unsafe: the file it points to
// can be replaced.
func TestSymlinkedPluginIsJudgedByItsTarget(t *testing.T) {
	bin := placePlugin(t, 0o757, 0o755)
	links := t.TempDir()
	link := filepath.Join(links, "cajon-plugin-exec")
	if err := os.Symlink(bin, link); err != nil {
		t.Fatal(err)
	}
	reg := open(t, []string{links})
	if notes := strings.Join(reg.Notes(), "\n"); !strings.Contains(notes, "plugin folder "+filepath.Dir(bin)+" (of plugin "+link+") is writable by others") {
		t.Fatalf("notes:\n%s", notes)
	}
}

func TestSHA256Allowlist(t *testing.T) {
	bin := placePlugin(t, 0o755, 0o755)
	digest := digestOf(t, bin)
	other := strings.Repeat("ab", 32)
	cases := []struct {
		name    string
		digests map[string]string
		want    string // "" = runs
		note    string
	}{
		{"pinned", map[string]string{"exec": digest}, "", ""},
		{"pinned in capitals", map[string]string{"exec": strings.ToUpper(digest)}, "", ""},
		{"another digest", map[string]string{"exec": other},
			"plugin binary " + bin + " does not match plugins.sha256.exec (its sha256 is " + digest + ")", ""},
		{"not listed", map[string]string{"blender": other},
			"plugin exec is not in the plugins.sha256 allowlist", "plugins.sha256 lists plugin blender, but no cajon-plugin-blender was found"},
		{"not a digest", map[string]string{"exec": "abc"}, `plugins.sha256.exec = "abc" is not a sha256 digest`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reg := open(t, []string{filepath.Dir(bin)}, func(o *plugins.Options) { o.SHA256 = tc.digests })
			notes := strings.Join(reg.Notes(), "\n")
			_, runs := reg.Command("echo")
			if tc.want == "" {
				if !runs {
					t.Fatalf("refused: %s", notes)
				}
				if res := reg.Run(context.Background(), req("echo", map[string]any{"message": "x"}), nil); res.Status != plugins.Completed {
					t.Fatalf("pinned plugin did not run: %v", res)
				}
				return
			}
			if runs || !strings.Contains(notes, tc.want) || !strings.Contains(notes, tc.note) {
				t.Fatalf("runs %v, notes:\n%s\nwant %q and %q", runs, notes, tc.want, tc.note)
			}
		})
	}
}

// A binary that changes after the registry opened is checked again before it
// starts: its mode by the host, its digest by go-plugin's SecureConfig.
func TestChangedBinaryIsCheckedBeforeItStarts(t *testing.T) {
	cases := []struct {
		name   string
		change func(t *testing.T, bin string)
		want   string
	}{
		{"made writable by others", func(t *testing.T, bin string) {
			if err := os.Chmod(bin, 0o757); err != nil {
				t.Fatal(err)
			}
		}, "is writable by others"},
		{"contents changed", func(t *testing.T, bin string) {
			f, err := os.OpenFile(bin, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString("tampered")
			f.Close()
		}, "does not match plugins.sha256.exec"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bin := placePlugin(t, 0o755, 0o755)
			cache := filepath.Join(t.TempDir(), "described.json")
			pin := func(o *plugins.Options) {
				o.SHA256 = map[string]string{"exec": digestOf(t, bin)}
				o.DescribeCache = cache
			}
			open(t, []string{filepath.Dir(bin)}, pin).Close() // fills the cache
			reg := open(t, []string{filepath.Dir(bin)}, pin)
			if len(reg.Processes()) != 0 {
				t.Fatal("the plugin must not have been started yet")
			}
			tc.change(t, bin)
			res := reg.Run(context.Background(), req("echo", map[string]any{"message": "x"}), nil)
			if res.Status != plugins.Failed || !strings.Contains(res.Message, tc.want) {
				t.Fatalf("got %v %q, want a refusal saying %q", res.Status, res.Message, tc.want)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	bin := placePlugin(t, 0o755, 0o755)
	bad := placePlugin(t, 0o755, 0o777)
	digest := digestOf(t, bin)
	verdicts, notes := plugins.Verify([]string{filepath.Dir(bin), filepath.Dir(bad)}, map[string]string{"exec": digest, "ffmpeg": digest})
	if len(verdicts) != 1 || verdicts[0].Path != bin || verdicts[0].SHA256 != digest || !verdicts[0].Pinned || verdicts[0].Refused != nil {
		t.Fatalf("verdicts %+v", verdicts)
	}
	if joined := strings.Join(notes, "\n"); !strings.Contains(joined, "is shadowed by") || !strings.Contains(joined, "no cajon-plugin-ffmpeg was found") {
		t.Fatalf("notes %v", notes)
	}
	verdicts, _ = plugins.Verify([]string{filepath.Dir(bad)}, nil)
	if len(verdicts) != 1 || verdicts[0].Refused == nil || !strings.Contains(verdicts[0].Refused.Error(), "chmod go-w "+bad) || verdicts[0].Pinned {
		t.Fatalf("verdicts %+v", verdicts)
	}
}
