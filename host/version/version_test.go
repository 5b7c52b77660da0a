package version

import (
	"runtime"
	"testing"
)

func TestUserAgent(t *testing.T) {
	want := "cajon/" + Version + " (" + runtime.GOOS + "/" + runtime.GOARCH + ")"
	if got := UserAgent(); got != want {
		t.Fatalf("UserAgent() = %q, want %q", got, want)
	}
	if Version == "" {
		t.Fatal("Version is empty; the default must be \"dev\"")
	}
}
