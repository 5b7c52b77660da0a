package sdk

import (
	"context"
	"strings"
	"testing"
)

type exampleParams struct {
	Message string `param:"message,required"`
	Count   int    `param:"count" default:"1"`
}

func (*exampleParams) Run(context.Context, *Run) error { return nil }

func TestWithExample(t *testing.T) {
	cases := []struct {
		name    string
		example map[string]any
		problem string // "" = accepted
	}{
		{"fits", map[string]any{"message": "hi", "count": 2}, ""},
		{"a required parameter missing", map[string]any{"count": 2}, `parameter "message" is required`},
		{"a wrong type", map[string]any{"message": "hi", "count": "two"}, `parameter "count"`},
		{"an unknown parameter", map[string]any{"message": "hi", "colour": "red"}, `unknown parameter "colour"`},
		{"not JSON-like", map[string]any{"message": make(chan int)}, "example"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := NewCommand[exampleParams]("say", "misc", "").WithExample(tc.example)
			_, err := newServer(Plugin{Name: "p", Commands: []Command{c}})
			switch {
			case tc.problem == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.problem == "" && c.spec.GetExample().AsMap()["message"] != "hi":
				t.Fatalf("example not in the spec: %v", c.spec.GetExample())
			case tc.problem != "" && (err == nil || !strings.Contains(err.Error(), tc.problem)):
				t.Fatalf("got %v, want an error containing %q", err, tc.problem)
			}
		})
	}
}
