package flamenco

import (
	"context"
	"net/http"
	"net/url"
)

// SharedStorage is where the Manager's shared storage is for one platform,
// with the Manager's two-way variables applied.
type SharedStorage struct {
	Location      string
	Audience      string
	Platform      string
	ShamanEnabled bool
}

// SharedStorage asks the Manager where its shared storage is for workers on
// platform ("linux", "windows", "darwin"); no credentials are needed.
func (c *Client) SharedStorage(ctx context.Context, platform string) (SharedStorage, error) {
	path := "/api/v3/configuration/shared-storage/workers/" + url.PathEscape(platform)
	a, err := c.do(ctx, request{op: "shared-storage", method: http.MethodGet, path: path, noAuth: true, want: http.StatusOK})
	if err != nil {
		return SharedStorage{}, err
	}
	s, err := decodeSharedStorage(a.body)
	if err != nil {
		return SharedStorage{}, c.badAnswer(a.req, a.status, err)
	}
	return s, nil
}

func decodeSharedStorage(data []byte) (SharedStorage, error) {
	var s SharedStorage
	o := parseObject("", data)
	o.nonEmpty("location", &s.Location)
	o.str("audience", &s.Audience)
	o.str("platform", &s.Platform)
	o.bool("shamanEnabled", &s.ShamanEnabled)
	if o.err != nil {
		return SharedStorage{}, o.err
	}
	return s, nil
}
