package main

import (
	"fmt"
	"strconv"
	"strings"
)

// stockOnlyFlags are the stock flamenco-worker's boolean flags that no cajon
// command has; plain `cajon` takes them with the stock worker's meaning, so
// that a unit or script written for flamenco-worker only changes its binary.
// -manager and -restart-exit-code are flags of `cajon run` already.
var stockOnlyFlags = map[string]bool{
	"register": true, "find-manager": true, "flush": true,
	"quiet": true, "debug": true, "trace": true, "version": true,
}

// stockFindManagerTimeout is how long the stock worker's -find-manager
// searches before it gives up.
const stockFindManagerTimeout = "1m"

// plainCommand turns the arguments of plain `cajon` (flags only, or none,
// as a flamenco-worker unit passes them) into a cajon command line:
// `run` by default (which finds the Manager on the network when none is
// configured, as the stock worker does), `flush`, `find-manager` or
// `version` for the stock worker's flags of that meaning. notes are for
// stderr. Arguments that start with a command, or ask for help, are
// returned unchanged.
func plainCommand(args []string) (out []string, notes []string, err error) {
	if len(args) > 0 && (!strings.HasPrefix(args[0], "-") || isHelpFlag(args[0])) {
		return args, nil, nil
	}
	stock := map[string]bool{}
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || !strings.HasPrefix(a, "-") {
			rest = append(rest, args[i:]...)
			break
		}
		if isHelpFlag(a) {
			return append([]string{"run"}, a), nil, nil
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if stockOnlyFlags[name] {
			on := true
			if hasValue {
				if on, err = strconv.ParseBool(value); err != nil {
					return nil, nil, &exitError{code: 2, err: fmt.Errorf("flag %s: %q is not true or false", a, value)}
				}
			}
			stock[name] = on
			continue
		}
		rest = append(rest, a)
		// Every other flag of plain cajon (cajon run's) takes a value.
		if !hasValue && i+1 < len(args) {
			i++
			rest = append(rest, args[i])
		}
	}
	if stock["register"] {
		notes = append(notes, "-register: flamenco-worker 3.x accepts this flag and does nothing with it, and so does cajon: "+
			"the worker keeps its credentials; 'cajon register' registers it anew")
	}
	level := ""
	switch {
	case stock["trace"]:
		level = "trace"
	case stock["debug"]:
		level = "debug"
	case stock["quiet"]:
		level = "warn"
	}
	switch {
	case stock["version"]:
		return []string{"version"}, notes, nil
	case stock["find-manager"]:
		out = []string{"find-manager", "--timeout", stockFindManagerTimeout}
		if level != "" {
			out = append(out, "--log-level", level)
		}
		return out, notes, nil
	case stock["flush"]:
		out = []string{"flush"}
		// The stock worker signs on before it flushes; a restart code
		// means nothing to a flush.
		rest = withoutFlag(rest, "restart-exit-code")
	default:
		out = []string{"run"}
	}
	if level != "" && !hasFlag(rest, "log-level") {
		out = append(out, "--log-level", level)
	}
	return append(out, rest...), notes, nil
}

// hasFlag reports whether args give the flag name (-name, --name, -name=v).
func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if n, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "="); strings.HasPrefix(a, "-") && n == name {
			return true
		}
	}
	return false
}

// withoutFlag drops the flag name and its value from args.
func withoutFlag(args []string, name string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		n, _, hasValue := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		if strings.HasPrefix(args[i], "-") && n == name {
			if !hasValue {
				i++
			}
			continue
		}
		out = append(out, args[i])
	}
	return out
}

func isHelpFlag(a string) bool {
	switch a {
	case "-h", "--help", "-help", "help":
		return true
	}
	return false
}
