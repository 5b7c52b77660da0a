package plugins

import (
	"encoding/json"

	pluginv1 "github.com/cajonfarm/cajon/sdk/proto/cajon/plugin/v1"
	"github.com/cajonfarm/cajon/sdk/wire"
)

// Info is what a plugin says about itself (its Describe answer), as plain Go
// values: what `cajon plugins` lists and the worker routes by. No generated
// protocol type passes this package's boundary.
type Info struct {
	Name, Version string
	// SDKVersion is the version of the SDK the plugin was built with.
	SDKVersion string
	// Capabilities names what the plugin can do beyond running commands
	// ("previews"); empty when nothing.
	Capabilities []string
	// ConfigDeclared tells whether the plugin declares its [plugins.<name>]
	// table; Config lists its keys (none: it takes no table). An undeclared
	// table is passed on unchecked.
	ConfigDeclared bool
	Config         []ParamInfo
	Commands       []CommandInfo
}

// CommandInfo is one command and the plugin that serves it.
type CommandInfo struct {
	Plugin                      string
	Name, TaskType, Description string
	Params                      []ParamInfo
	// Example is parameters the command runs with wherever its plugin can
	// run (`plugins check` runs it); nil when the command has none.
	Example map[string]any

	spec *pluginv1.CommandSpec
}

// ParamInfo is one parameter of a command or one key of a plugin's table.
type ParamInfo struct {
	Name, Description string
	// Type is the type's name as docs/PLUGINS.md spells it ("string",
	// "string list", ...).
	Type     string
	Required bool
	// Default is the value a missing parameter takes, as JSON; empty when
	// there is none.
	Default json.RawMessage
}

// infoOf turns a plugin's Describe answer into an Info.
func infoOf(d *pluginv1.DescribeResponse) Info {
	info := Info{
		Name: d.GetName(), Version: d.GetVersion(), SDKVersion: d.GetSdkVersion(),
		Capabilities: CapabilityNames(CapabilitiesOf(d)),
	}
	if schema := d.GetConfigSchema(); schema != nil {
		info.ConfigDeclared = true
		info.Config = paramsOf(schema.GetKeys())
	}
	for _, c := range d.GetCommands() {
		info.Commands = append(info.Commands, commandOf(d.GetName(), c))
	}
	return info
}

func commandOf(plugin string, c *pluginv1.CommandSpec) CommandInfo {
	ci := CommandInfo{
		Plugin: plugin, Name: c.GetName(), TaskType: c.GetTaskType(), Description: c.GetDescription(),
		Params: paramsOf(c.GetParams()), spec: c,
	}
	if ex := c.GetExample(); ex != nil {
		ci.Example = ex.AsMap()
	}
	return ci
}

func paramsOf(specs []*pluginv1.ParamSpec) []ParamInfo {
	out := make([]ParamInfo, 0, len(specs))
	for _, p := range specs {
		pi := ParamInfo{Name: p.GetName(), Description: p.GetDescription(), Type: wire.TypeName(p.GetType()), Required: p.GetRequired()}
		if d := p.GetDefaultValue(); d != nil {
			pi.Default, _ = json.Marshal(d.AsInterface())
		}
		out = append(out, pi)
	}
	return out
}
