package conformance

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// WriteTable prints the report as a table, then one line with the verdict.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "CHECK\tRESULT\tTIME\tDETAIL\n")
	failed, skipped := 0, 0
	for _, c := range r.Checks {
		took := ""
		if c.Took > 0 {
			took = roundDuration(c.Took).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Name, c.Status, took, c.Detail)
		switch c.Status {
		case Fail:
			failed++
		case Skip:
			skipped++
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	verdict := "PASS"
	if failed > 0 {
		verdict = "FAIL"
	}
	_, err := fmt.Fprintf(w, "%s: %s: %d checks, %d failed, %d skipped, in %s\n",
		verdict, r.Path, len(r.Checks), failed, skipped, roundDuration(r.Took))
	return err
}

func roundDuration(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(10 * time.Millisecond)
}
