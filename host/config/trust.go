package config

import (
	"encoding/hex"
	"fmt"
	"path/filepath"
	"slices"
)

// PluginDigestsTable names the [plugins.sha256] table: the allowlist of
// plugin binaries (plugin name -> hex sha256), not a plugin's own table.
const PluginDigestsTable = "sha256"

// PluginDigests returns the plugins.sha256 allowlist; nil when not set.
// Validation made sure every value is a hex sha256 string.
func (c *Config) PluginDigests() map[string]string {
	table := c.Plugins[PluginDigestsTable]
	if len(table) == 0 {
		return nil
	}
	out := make(map[string]string, len(table))
	for name, v := range table {
		out[name], _ = v.(string)
	}
	return out
}

// PluginTables returns the [plugins.<name>] tables to pass to the plugins:
// every one but the allowlist.
func (c *Config) PluginTables() map[string]map[string]any {
	out := make(map[string]map[string]any, len(c.Plugins))
	for name, table := range c.Plugins {
		if name != PluginDigestsTable {
			out[name] = table
		}
	}
	return out
}

// validateTrust checks files.allowed_roots and plugins.sha256.
func validateTrust(cfg *Config, prov *Provenance) []error {
	var errs []error
	bad := func(key string, value any, problem string) {
		errs = append(errs, fmt.Errorf("%s = %s (%s): %s", key, valueText(value), prov.Of(key), problem))
	}
	for _, root := range cfg.Files.AllowedRoots {
		if root != "/" && !filepath.IsAbs(root) { // "/" is anywhere, on Windows too
			bad("files.allowed_roots", cfg.Files.AllowedRoots, fmt.Sprintf("%q is not an absolute path", root))
		}
	}
	if slices.Contains(cfg.Files.AllowedRoots, "") {
		bad("files.allowed_roots", cfg.Files.AllowedRoots, "a folder is empty")
	}
	// The host computes the files plugin's roots and passes them in this key.
	if v, ok := cfg.Plugins["files"]["allowed_roots"]; ok {
		bad(pluginKey("files", "allowed_roots"), v, "the host sets this from files.allowed_roots: set that instead")
	}
	digests := cfg.Plugins[PluginDigestsTable]
	for _, name := range sortedKeys(digests) {
		text, ok := digests[name].(string)
		raw, err := hex.DecodeString(text)
		if !ok || err != nil || len(raw) != 32 {
			bad(pluginKey(PluginDigestsTable, name), digests[name], "must be the plugin binary's sha256 as 64 hexadecimal digits (cajon plugins verify prints it)")
		}
	}
	return errs
}
