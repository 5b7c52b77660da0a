package plugins

import (
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	pluginv1 "github.com/cajonfarm/cajon/sdk/proto/cajon/plugin/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// describeCache remembers each plugin binary's Describe answer, keyed by its
// path, size and modification time, so the host learns the commands of an
// unchanged plugin without starting it: plugins start only when a command
// needs them, and a worker with four plugins starts in milliseconds with only
// its own memory in use.
//
// An answer is the plugin's reply to one DescribeRequest (the host's version
// and features), so the file records the request its answers replied to: a
// host that asks differently (another version, a new feature) starts afresh,
// as it does with a file of another format.
type describeCache struct {
	path    string
	request *pluginv1.DescribeRequest
	entries map[string]cacheEntry
}

// cacheFormat is the version of the cache file's layout. 1 was a bare map
// of entries, from before the negotiation; its answers lack the new fields.
const cacheFormat = 2

// cacheFile is the cache file's layout.
type cacheFile struct {
	Format int `json:"format"`
	// Request is the DescribeRequest the entries answered (protojson).
	Request json.RawMessage       `json:"request"`
	Entries map[string]cacheEntry `json:"entries"`
}

type cacheEntry struct {
	Size     int64           `json:"size"`
	ModTime  time.Time       `json:"mod_time"`
	Describe json.RawMessage `json:"describe"`
}

// loadDescribeCache reads the cache file of answers to req; a missing or
// unreadable file, one of another format or one that answered another
// request is an empty cache (it is only an optimisation).
func loadDescribeCache(path string, req *pluginv1.DescribeRequest) *describeCache {
	c := &describeCache{path: path, request: req, entries: map[string]cacheEntry{}}
	if path == "" {
		return c
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return c
	}
	var f cacheFile
	if json.Unmarshal(raw, &f) != nil || f.Format != cacheFormat || f.Entries == nil {
		return c
	}
	// Compared as messages: protojson's text is not stable byte for byte.
	var asked pluginv1.DescribeRequest
	if protojson.Unmarshal(f.Request, &asked) != nil || !proto.Equal(&asked, req) {
		return c
	}
	c.entries = f.Entries
	return c
}

// lookup returns the cached description of the binary at path, or nil when
// the binary changed since or was never described.
func (c *describeCache) lookup(path string) *pluginv1.DescribeResponse {
	e, ok := c.entries[path]
	if !ok {
		return nil
	}
	stamp, err := stampOf(path)
	if err != nil || stamp.size != e.Size || !stamp.modTime.Equal(e.ModTime) {
		return nil
	}
	var d pluginv1.DescribeResponse
	if err := protojson.Unmarshal(e.Describe, &d); err != nil {
		return nil
	}
	return &d
}

// store records a fresh description of the binary with the given stamp.
func (c *describeCache) store(path string, stamp fileStamp, d *pluginv1.DescribeResponse) {
	raw, err := protojson.Marshal(d)
	if err != nil {
		return
	}
	c.entries[path] = cacheEntry{Size: stamp.size, ModTime: stamp.modTime, Describe: raw}
}

// save writes the cache atomically; failures only cost a slower next start.
func (c *describeCache) save(keep map[string]bool) error {
	if c.path == "" {
		return nil
	}
	for p := range c.entries {
		if !keep[p] {
			delete(c.entries, p)
		}
	}
	req, err := protojson.Marshal(c.request)
	if err != nil {
		return err
	}
	raw, err := json.MarshalIndent(cacheFile{Format: cacheFormat, Request: req, Entries: c.entries}, "", "  ")
	if err != nil {
		return err
	}
	// State files are private (0600 in a 0700 folder), like the rest of
	// state_dir. A fresh temporary file each time, so the renamed file has
	// that mode even where an older cajon wrote it 0644.
	dir := filepath.Dir(c.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".plugins-described-*.tmp") // mode 0600
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	if _, err := tmp.Write(raw); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), c.path)
}
