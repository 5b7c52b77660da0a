package main

import (
	"slices"
	"testing"

	"github.com/cajonfarm/cajon/sdk/sdktest"
)

func TestShout(t *testing.T) {
	res := sdktest.Run(t, plugin(), "shout", map[string]any{"message": "hi", "times": 2})
	if res.Status != sdktest.Completed || !slices.Equal(res.Lines, []string{"HI", "HI"}) {
		t.Fatalf("got %+v", res)
	}
}
