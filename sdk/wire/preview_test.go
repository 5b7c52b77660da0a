package wire_test

import (
	"testing"

	"github.com/cajonfarm/cajon/sdk/wire"
)

func TestIsPreview(t *testing.T) {
	tests := []struct {
		path, mime string
		want       bool
	}{
		{"/tmp/cajon-preview/run-1/0001-frame.jpg", "image/jpeg", true},
		{`C:\Temp\cajon-preview\run-1\0001-frame.jpg`, "image/jpeg", true},
		{"/tmp/cajon-preview/run-1/0001-frame.jpg", "image/jpeg; quality=85", true},
		{"/tmp/cajon-preview/run-1/0001-frame.png", "image/png", false},
		{"/tmp/cajon-preview/0001-frame.jpg", "image/jpeg", false},
		{"/tmp/cajon-preview/a/b/0001-frame.jpg", "image/jpeg", false},
		{"/renders/not-cajon-preview/run/frame.jpg", "image/jpeg", false},
		{"/renders/frame-0001.jpg", "image/jpeg", false},
		{"/tmp/cajon-preview/run-1/0001-frame.jpg", "", false},
	}
	for _, tt := range tests {
		if got := wire.IsPreview(tt.path, tt.mime); got != tt.want {
			t.Errorf("wire.IsPreview(%q, %q) = %v, want %v", tt.path, tt.mime, got, tt.want)
		}
	}
}
