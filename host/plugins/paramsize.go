package plugins

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/cajonfarm/cajon/sdk/bytesize"

	pluginv1 "github.com/cajonfarm/cajon/sdk/proto/cajon/plugin/v1"
	"github.com/cajonfarm/cajon/sdk/wire"
	"google.golang.org/protobuf/proto"
)

// MaxParamBytes is the largest one parameter of a command may be, counted as
// the bytes of its strings, keys and numbers. A whole request must also fit
// in wire.MaxMessageBytes with the plugin's config and the environment.
const MaxParamBytes = 4 << 20

// CheckParamSizes refuses parameters larger than MaxParamBytes, naming each
// one with its size and the limit. Registry.Run calls it before a command
// starts; job file checks may call it earlier.
func CheckParamSizes(command string, params map[string]any) error {
	names := make([]string, 0, len(params))
	for name := range params {
		names = append(names, name)
	}
	sort.Strings(names)
	var problems []string
	for _, name := range names {
		if n := valueBytes(params[name]); n > MaxParamBytes {
			problems = append(problems, fmt.Sprintf("parameter %q is %s, more than the largest a parameter may be, %s",
				name, byteSize(n), byteSize(MaxParamBytes)))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return &wire.ParamError{Command: command, Problems: problems}
}

// checkRequestSize refuses a request the plugin could not receive.
func checkRequestSize(rreq *pluginv1.RunRequest) error {
	if n := proto.Size(rreq); n > wire.MaxMessageBytes {
		return fmt.Errorf("command %q: its request (parameters, [plugins.*] config and environment together) is %s, more than the %s a plugin accepts",
			rreq.GetCommand(), byteSize(n), byteSize(wire.MaxMessageBytes))
	}
	return nil
}

// valueBytes is about what a JSON-like value takes on the wire.
func valueBytes(v any) int {
	switch x := v.(type) {
	case nil, bool:
		return 1
	case string:
		return len(x)
	case []string:
		n := 0
		for _, s := range x {
			n += len(s) + 2
		}
		return n
	case []any:
		n := 0
		for _, e := range x {
			n += valueBytes(e) + 2
		}
		return n
	case map[string]string:
		n := 0
		for k, e := range x {
			n += len(k) + len(e) + 4
		}
		return n
	case map[string]any:
		n := 0
		for k, e := range x {
			n += len(k) + valueBytes(e) + 4
		}
		return n
	case json.Number:
		return len(x)
	default:
		return 8 // numbers
	}
}

// byteSize shows a size for people, with the exact count.
func byteSize(n int) string {
	if n < 1<<10 {
		return bytesize.Format(int64(n))
	}
	return fmt.Sprintf("%s (%d bytes)", bytesize.Format(int64(n)), n)
}
