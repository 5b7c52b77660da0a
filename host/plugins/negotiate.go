package plugins

import (
	"fmt"
	"slices"

	"github.com/cajonfarm/cajon/host/version"
	pluginv1 "github.com/cajonfarm/cajon/sdk/proto/cajon/plugin/v1"
)

// The protocol features this host speaks, sent in DescribeRequest.features.
// plugin.proto documents each name; a plugin looks for the names it knows.
const (
	featureOptionalProgress  = "optional-progress"
	featureTotalSteps        = "total-steps"
	featureUnknownParamTypes = "unknown-param-types"
	featureTypedCapabilities = "typed-capabilities"
	featureConfigSchema      = "config-schema"
	featureCgroupPath        = "cgroup-path"
)

// describeRequest is the host's side of the negotiation that opens every
// plugin process.
func describeRequest() *pluginv1.DescribeRequest {
	return &pluginv1.DescribeRequest{
		HostVersion: version.Version,
		Features: []string{
			featureOptionalProgress, featureTotalSteps, featureUnknownParamTypes,
			featureTypedCapabilities, featureConfigSchema, featureCgroupPath,
		},
	}
}

// legacyCapabilityPreviews is the name plugins built before
// typed_capabilities sent in DescribeResponse.capabilities for previews.
const legacyCapabilityPreviews = "previews"

// CapabilitiesOf is what a plugin can do: its typed capabilities, or, for a
// plugin built before them, what the names it sent say. Never nil.
func CapabilitiesOf(d *pluginv1.DescribeResponse) *pluginv1.Capabilities {
	if c := d.GetTypedCapabilities(); c != nil {
		return c
	}
	names := d.GetCapabilities() // deprecated, read only as this fallback
	return &pluginv1.Capabilities{Previews: slices.Contains(names, legacyCapabilityPreviews)}
}

// CapabilityNames names a plugin's capabilities, for listings; empty when it
// has none.
func CapabilityNames(c *pluginv1.Capabilities) []string {
	var names []string
	if c.GetPreviews() {
		names = append(names, "previews")
	}
	return names
}

// DescribeWarnings lists what is doubtful, though not wrong, in a plugin's
// description: a parameter or config key declared without a type (any value
// then passes unchecked, usually a mistake) or with a type this host does
// not know (a plugin built against a newer plugin.proto: its values are
// passed on for the plugin to judge). Each names the plugin, the command and
// the parameter.
func DescribeWarnings(d *pluginv1.DescribeResponse) []string {
	var out []string
	check := func(where string, p *pluginv1.ParamSpec) {
		switch t := p.GetType(); {
		case t == pluginv1.ParamType_PARAM_TYPE_UNSPECIFIED:
			out = append(out, fmt.Sprintf("plugin %s: %s %q declares no type, so any value passes unchecked: give it one (Go SDK: a field of a concrete type, not any)",
				d.GetName(), where, p.GetName()))
		case !knownType(t):
			out = append(out, fmt.Sprintf("plugin %s: %s %q has type %d, which this cajon does not know (the plugin is newer): its values are passed on unchecked, for the plugin to judge",
				d.GetName(), where, p.GetName(), t))
		}
	}
	for _, c := range d.GetCommands() {
		for _, p := range c.GetParams() {
			check(fmt.Sprintf("command %q: parameter", c.GetName()), p)
		}
	}
	for _, k := range d.GetConfigSchema().GetKeys() {
		check(fmt.Sprintf("[plugins.%s] key", d.GetName()), k)
	}
	return out
}

// knownType reports whether this host's plugin.proto has the type.
func knownType(t pluginv1.ParamType) bool {
	_, ok := pluginv1.ParamType_name[int32(t)]
	return ok
}
