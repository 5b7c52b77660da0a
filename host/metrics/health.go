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
