package managertest

import (
	"net/http"
	"net/url"
	"strings"
)

// OpSharedStorage is GET /api/v3/configuration/shared-storage/{audience}/{platform}:
// where the Manager's shared storage is (no credentials needed).
const OpSharedStorage = "shared-storage"

// DefaultSharedStorage is the shared storage location when Config.SharedStorage is empty.
const DefaultSharedStorage = "/srv/managertest-shared-storage"

type sharedStorageBody struct {
	Location      string `json:"location"`
	Audience      string `json:"audience"`
	Platform      string `json:"platform"`
	ShamanEnabled bool   `json:"shamanEnabled"`
}

// isSharedStoragePath matches configuration/shared-storage/{audience}/{platform}.
func isSharedStoragePath(parts []string) bool {
	return len(parts) == 4 && parts[0] == "configuration" && parts[1] == "shared-storage" && parts[2] != "" && parts[3] != ""
}

// sharedStorage answers as Flamenco Manager 3.8.5 does (its answer is in
// host/flamenco's tests); the audience must be one the schema knows.
func (m *Manager) sharedStorage(r *http.Request) reply {
	parts := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/api/v3/"), "/")
	audience, _ := url.PathUnescape(parts[2])
	platform, _ := url.PathUnescape(parts[3])
	if audience != "workers" && audience != "users" {
		m.protocolError("shared-storage: audience %q is not workers or users", audience)
		return errReply(http.StatusBadRequest, "invalid audience %q", audience)
	}
	loc := m.cfg.SharedStorage
	if loc == "" {
		loc = DefaultSharedStorage
	}
	return reply{status: http.StatusOK, body: sharedStorageBody{Location: loc, Audience: audience, Platform: platform}}
}
