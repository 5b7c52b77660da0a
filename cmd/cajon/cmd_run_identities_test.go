package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/host/config"
)

func TestIdentitiesToRun(t *testing.T) {
	tables := []config.IdentityConfig{{Name: "a"}, {Name: "b"}}
	tests := []struct {
		name   string
		tables []config.IdentityConfig
		flag   int
		want   int // identities
		err    string
	}{
		{"one plain worker", nil, 0, 0, ""},
		{"the flag", nil, 3, 3, ""},
		{"the tables", tables, 0, 2, ""},
		{"both", tables, 2, 0, "use one or the other"},
		{"negative", nil, -1, 0, "must be 1 or more"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Defaults()
			cfg.Worker.Identities = tt.tables
			got, err := identitiesToRun(&cfg, tt.flag)
			if tt.err != "" {
				var ee *exitError
				if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.As(err, &ee) || ee.code != 2 {
					t.Fatalf("error %v, want a usage error containing %q", err, tt.err)
				}
				return
			}
			if err != nil || len(got) != tt.want {
				t.Fatalf("identitiesToRun = %d identities, %v; want %d", len(got), err, tt.want)
			}
		})
	}
}
