//go:build !windows

package plugins

// pluginHold is nothing outside Windows: the parent-death signal (Linux) and
// the lifeline tie a plugin to the host, and proctree's sweeps find its
// processes.
type pluginHold struct{}

func holdPlugin(int) (*pluginHold, error) { return nil, nil }

func (*pluginHold) kill()    {}
func (*pluginHold) release() {}
