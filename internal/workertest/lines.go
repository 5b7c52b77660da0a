package workertest

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/internal/managertest"
)

// PrinterScript is an sh script (for ShellTask) that prints "<prefix><i>"
// for i in 0..n-1, sleeping pause (sleep(1)'s argument) after each line.
func PrinterScript(prefix string, n int, pause string) string {
	return fmt.Sprintf(`i=0; while [ $i -lt %d ]; do echo "%s$i"; i=$((i+1)); sleep %s; done`, n, prefix, pause)
}

// Numbered returns the numbers of the lines "<prefix><n>" of log (the
// number may be followed by a space and more), in order.
func Numbered(log, prefix string) []int {
	var out []int
	for _, l := range strings.Split(log, "\n") {
		if rest, ok := strings.CutPrefix(l, prefix); ok {
			rest, _, _ = strings.Cut(rest, " ")
			if n, err := strconv.Atoi(rest); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// CheckExactlyOnce checks that the lines "<prefix>0".."<prefix>n-1" reached
// the Manager each exactly once, in order.
func CheckExactlyOnce(tb testing.TB, ts managertest.TaskState, prefix string, n int) {
	tb.Helper()
	got := Numbered(ts.Log, prefix)
	ok := len(got) == n
	for i := 0; ok && i < n; i++ {
		ok = got[i] == i
	}
	if !ok {
		tb.Errorf("task %s: lines %q0..%d arrived as %v; want each exactly once, in order", ts.Name, prefix, n-1, got)
	}
}
