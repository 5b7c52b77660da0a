package plugins

// checkOwnerAndMode does nothing on Windows: who may write a file is a matter
// of its ACL there, which this check does not read. Pin the binaries with
// plugins.sha256 instead.
func checkOwnerAndMode(path, what, plugin string) error { return nil }
