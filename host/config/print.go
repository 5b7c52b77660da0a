package config

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// Print writes cfg as a cajon.toml that Load reads back to the same values, with a
// comment on each line saying where the value came from (for `cajon config`). A
// header lists the files read and any warnings. p may be nil: no comments then.
func Print(w io.Writer, cfg *Config, p *Provenance) error {
	var out strings.Builder
	if p != nil {
		out.WriteString("# Effective cajon configuration; each comment says where the value came from.\n")
		if files := p.Files(); len(files) > 0 {
			out.WriteString("# Files read: " + strings.Join(files, ", ") + "\n")
		} else {
			out.WriteString("# Files read: none\n")
		}
		for _, warning := range p.Warnings() {
			out.WriteString("# Warning: " + warning + "\n")
		}
		out.WriteString("\n")
	}

	table := ""
	for _, s := range settings() {
		section, leaf, nested := strings.Cut(s.key, ".")
		if !nested {
			section, leaf = "", s.key
		}
		if section != table {
			out.WriteString("\n[" + section + "]\n")
			table = section
		}
		value := reflectValue(s.field(cfg))
		if s.key == "manager.worker_name" && value == "" {
			writeUnsetWorkerName(&out, p)
			continue
		}
		if err := writeLine(&out, leaf, value, p.Of(s.key)); err != nil {
			return fmt.Errorf("print %s: %w", s.key, err)
		}
	}
	if err := printIdentities(&out, cfg.Worker.Identities, p); err != nil {
		return fmt.Errorf("print worker.identities: %w", err)
	}
	for _, name := range sortedKeys(cfg.Plugins) {
		header, err := tomlKey(name)
		if err != nil {
			return fmt.Errorf("print plugin table %q: %w", name, err)
		}
		out.WriteString("\n[plugins." + header + "]\n")
		for _, key := range sortedKeys(cfg.Plugins[name]) {
			if err := writeLine(&out, key, cfg.Plugins[name][key], p.Of(pluginKey(name, key))); err != nil {
				return fmt.Errorf("print plugins.%s.%s: %w", name, key, err)
			}
		}
	}
	_, err := io.WriteString(w, out.String())
	return err
}

// writeUnsetWorkerName writes an unset worker_name as a comment, never as the
// host name: a printed config copied to other machines must let each of them
// take its own host name when it starts. Without provenance nothing is written
// (an absent key reads back as unset).
func writeUnsetWorkerName(out *strings.Builder, p *Provenance) {
	if p == nil {
		return
	}
	now := "unknown here"
	if host, err := os.Hostname(); err == nil && host != "" {
		now = fmt.Sprintf("%q here", host)
	}
	fmt.Fprintf(out, "%-44s # %s: the host name at start (%s)\n", "#worker_name = ''", p.Of("manager.worker_name"), now)
}

// writeLine writes `key = value`, then `# origin` when origin is known.
func writeLine(out *strings.Builder, key string, value any, origin string) error {
	if d, ok := value.(time.Duration); ok {
		value = durationString(d)
	}
	line, err := encodeOne(key, value)
	if err != nil {
		return err
	}
	if origin == "" {
		out.WriteString(line + "\n")
		return nil
	}
	fmt.Fprintf(out, "%-44s # %s\n", line, origin)
	return nil
}

// encodeOne encodes `key = value` on one line, tables and arrays inline, with the
// key quoted when TOML needs it.
func encodeOne(key string, value any) (string, error) {
	var buf bytes.Buffer
	enc := toml.NewEncoder(&buf)
	enc.SetTablesInline(true)
	if err := enc.Encode(map[string]any{key: value}); err != nil {
		return "", err
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

// tomlKey quotes a key for a table header when it is not a bare key.
func tomlKey(key string) (string, error) {
	line, err := encodeOne(key, 0)
	if err != nil {
		return "", err
	}
	quoted, _, _ := strings.Cut(line, " = ")
	return quoted, nil
}

// valueText renders a value for an error message, as it would be written in TOML.
func valueText(value any) string {
	if d, ok := value.(time.Duration); ok {
		value = durationString(d)
	}
	line, err := encodeOne("v", value)
	if err != nil {
		return fmt.Sprint(value)
	}
	return strings.TrimPrefix(line, "v = ")
}

// durationString formats d for cajon.toml without the zero tails of
// time.Duration.String ("5m" rather than "5m0s").
func durationString(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// reflectValue dereferences a field pointer returned by setting.field.
func reflectValue(ptr any) any {
	switch p := ptr.(type) {
	case *string:
		return *p
	case *int:
		return *p
	case *int64:
		return *p
	case *bool:
		return *p
	case *[]string:
		return *p
	case *time.Duration:
		return *p
	}
	panic(fmt.Sprintf("config: field of type %T", ptr))
}
