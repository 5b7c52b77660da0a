package metrics

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Check is one condition of /healthz.
type Check struct {
	// Name says what is checked, e.g. "update queue of worker render-07".
	Name string
	// Run returns nil while healthy, else what is wrong. It gets a context
	// bounded by checkTimeout.
	Run func(ctx context.Context) error
	// Note, when not nil, adds what a passing check should still tell, such
	// as why the worker takes no task; "" adds nothing.
	Note func() string
}

// checkTimeout bounds one /healthz check: a queue database stuck behind a
// dying disk must make the check fail, not hang the scraper.
const checkTimeout = 5 * time.Second

// healthz answers 200 when every check passes, else 503; the body has one
// line per check, "ok: <name>" or "fail: <name>: <reason>".
func healthz(checks []Check) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body strings.Builder
		healthy := true
		for _, c := range checks {
			ctx, cancel := context.WithTimeout(r.Context(), checkTimeout)
			err := c.Run(ctx)
			cancel()
			if err != nil {
				healthy = false
				fmt.Fprintf(&body, "fail: %s: %v\n", c.Name, err)
			} else if note := noteOf(c); note != "" {
				fmt.Fprintf(&body, "ok: %s: %s\n", c.Name, note)
			} else {
				fmt.Fprintf(&body, "ok: %s\n", c.Name)
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if !healthy {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_, _ = w.Write([]byte(body.String()))
	})
}

func noteOf(c Check) string {
	if c.Note == nil {
		return ""
	}
	return c.Note()
}
