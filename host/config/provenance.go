package config

import "slices"

// Origins of a value, as Provenance.Of reports them: "default", "file <path>",
// "env <NAME>" or "flag".
const (
	originDefault = "default"
	originFlag    = "flag"
)

func originFile(path string) string { return "file " + path }

func originEnv(name string) string { return "env " + name }

// Provenance tells where each effective value came from.
type Provenance struct {
	origins  map[string]string
	files    []string
	warnings []string
}

func newProvenance() *Provenance {
	p := &Provenance{origins: map[string]string{}}
	for _, key := range Keys() {
		p.origins[key] = originDefault
	}
	p.origins[identitiesKey] = originDefault
	return p
}

// Of returns where the effective value of key came from: "default",
// "file /etc/cajon/cajon.toml", "env CAJON_MANAGER_URL" or "flag". Plugin values
// are keyed "plugins.<name>.<key>". An unknown key gives "".
func (p *Provenance) Of(key string) string {
	if p == nil {
		return ""
	}
	return p.origins[key]
}

// Files returns the config files that existed and were read, in layer order.
func (p *Provenance) Files() []string {
	if p == nil {
		return nil
	}
	return slices.Clone(p.files)
}

// Warnings returns problems that did not stop the load, such as a CAJON_*
// environment variable that is not a setting (most likely a typo).
func (p *Provenance) Warnings() []string {
	if p == nil {
		return nil
	}
	return slices.Clone(p.warnings)
}

func (p *Provenance) set(key, origin string) { p.origins[key] = origin }

func pluginKey(plugin, key string) string { return "plugins." + plugin + "." + key }
