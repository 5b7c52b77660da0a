package wire

import (
	"slices"
	"testing"
)

func TestWithoutPlumbing(t *testing.T) {
	env := []string{
		"PATH=/usr/bin",
		"CAJON_PLUGIN=cajon-plugin-v1",
		"CAJON_LIFELINE_FD=3",
		"CAJON_HOST_DIR=/opt/cajon",
		"PLUGIN_MIN_PORT=10000",
		"PLUGIN_MAX_PORT=25000",
		"PLUGIN_PROTOCOL_VERSIONS=1",
		"PLUGIN_CLIENT_CERT=-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
		"PLUGIN_MULTIPLEX_GRPC=false",
		"PLUGIN_UNIX_SOCKET_DIR=/tmp/x",
		"PLUGIN_UNIX_SOCKET_GROUP=render",
		"plugin_client_cert=windows names ignore case",
		"CAJON_RUN_ID=task.0.abc/1",
		"CAJON_MANAGER_URL=http://manager:8080",
		"PLUGIN_PATH_OF_A_STUDIO=/studio/plugins",
		"EMPTY=",
		"NOEQUALS",
	}
	want := []string{
		"PATH=/usr/bin",
		"CAJON_RUN_ID=task.0.abc/1",
		"CAJON_MANAGER_URL=http://manager:8080",
		"PLUGIN_PATH_OF_A_STUDIO=/studio/plugins",
		"EMPTY=",
		"NOEQUALS",
	}
	if got := WithoutPlumbing(env); !slices.Equal(got, want) {
		t.Errorf("WithoutPlumbing:\n got %q\nwant %q", got, want)
	}
}
