package main

import (
	"flag"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/cajonfarm/cajon/sdk/phrase"
)

// This file holds the flags and arguments of the 'cajon local' commands:
// flags on either side of the arguments, and messages for a value cut in
// two by a space.

// parseLocalFlags parses flags given before or after the positional
// arguments and checks their count.
func parseLocalFlags(fs *flag.FlagSet, args []string, minArgs, maxArgs int) error {
	if err := fs.Parse(reorderFlags(fs, args)); err != nil {
		return err
	}
	n := fs.NArg()
	if n >= minArgs && n <= maxArgs {
		return nil
	}
	takes := argumentCount(minArgs, maxArgs)
	if n < minArgs {
		return &exitError{code: 2, err: fmt.Errorf("missing argument: it takes %s (see '%s --help')", takes, fs.Name())}
	}
	// The usual cause: a space inside a flag's value (--every 1 h,
	// --at 2026-11-23 01:00).
	for _, a := range fs.Args() {
		flagName, value, ok := valueBefore(fs, args, a)
		switch {
		case !ok:
		case clockTime.MatchString(a):
			return &exitError{code: 2, err: fmt.Errorf("unexpected argument %q after --%s %s: did you mean --%s \"%s %s\"?", a, flagName, value, flagName, value, a)}
		case durationTail.MatchString(a):
			return &exitError{code: 2, err: fmt.Errorf("unexpected argument %q after --%s %s: did you mean --%s %s%s?", a, flagName, value, flagName, value, a)}
		}
	}
	return &exitError{code: 2, err: fmt.Errorf("unexpected argument %q: it takes %s (see '%s --help')", fs.Arg(maxArgs), takes, fs.Name())}
}

// clockTime and durationTail match the parts that a space cuts off a time
// ("01:00" of "2026-11-23 01:00") or a duration ("h" of "1 h").
var (
	clockTime    = regexp.MustCompile(`^[0-9]{1,2}:[0-9]{2}(:[0-9]{2})?$`)
	durationTail = regexp.MustCompile(`^[0-9.]*(ns|us|µs|ms|s|m|h|d)([0-9.]+(ns|us|µs|ms|s|m|h))*$`)
)

// argumentCount says how many arguments a command takes.
func argumentCount(minArgs, maxArgs int) string {
	switch {
	case maxArgs == 0:
		return "no arguments"
	case minArgs == maxArgs:
		return fmt.Sprintf("%d %s", minArgs, phrase.Plural(minArgs, "argument", "arguments"))
	case minArgs == 0:
		return fmt.Sprintf("at most %d %s", maxArgs, phrase.Plural(maxArgs, "argument", "arguments"))
	}
	return fmt.Sprintf("%d to %d arguments", minArgs, maxArgs)
}

// valueBefore finds the positional argument arg in args right after the
// value of a flag that takes one, and returns the flag and that value.
func valueBefore(fs *flag.FlagSet, args []string, arg string) (name, value string, ok bool) {
	for i := 1; i < len(args); i++ {
		if args[i] != arg {
			continue
		}
		prev := args[i-1]
		if n, v, found := strings.Cut(strings.TrimLeft(prev, "-"), "="); found && strings.HasPrefix(prev, "-") && takesValue(fs, n) {
			return n, v, true
		}
		if i >= 2 && strings.HasPrefix(args[i-2], "-") && !strings.HasPrefix(prev, "-") {
			if n := strings.TrimLeft(args[i-2], "-"); !strings.Contains(n, "=") && takesValue(fs, n) {
				return n, prev, true
			}
		}
	}
	return "", "", false
}

// takesValue reports whether fs has a flag of that name that is not a boolean.
func takesValue(fs *flag.FlagSet, name string) bool {
	f := fs.Lookup(name)
	if f == nil {
		return false
	}
	bf, ok := f.Value.(interface{ IsBoolFlag() bool })
	return !ok || !bf.IsBoolFlag()
}

// reorderFlags moves flags before positional arguments, knowing which flags
// of fs take no value (booleans).
func reorderFlags(fs *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if !takesValue(fs, name) {
			continue // a boolean, or unknown: the parser reports it
		}
		if i+1 < len(args) {
			flags = append(flags, args[i+1])
			i++
		}
	}
	return append(flags, pos...)
}

func parseJobID(s string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimPrefix(s, "#"), 10, 64)
	if err != nil || id <= 0 {
		return 0, &exitError{code: 2, err: fmt.Errorf("%q is not a job id (a number, as 'cajon local list' shows)", s)}
	}
	return id, nil
}
