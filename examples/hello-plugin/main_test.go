package main

import (
	"testing"

	"github.com/cajonfarm/cajon/sdk/sdktest"
)

func TestGreet(t *testing.T) {
	res := sdktest.Run(t, plugin(), "greet", map[string]any{"name": "Ana"})
	if res.Status != sdktest.Completed || len(res.Lines) != 1 || res.Lines[0] != "hello, Ana" {
		t.Fatalf("got %+v", res)
	}
}
