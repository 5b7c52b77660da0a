package flamenco_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/host/flamenco"
)

func TestSharedStorage(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		want   flamenco.SharedStorage
		err    string
	}{
		// What Flamenco Manager 3.8.5 answered.
		{"as the Manager answers", 200, `{"audience":"workers","location":"/tmp/plugtrust/mgr/storage","platform":"linux","shamanEnabled":false}`,
			flamenco.SharedStorage{Location: "/tmp/plugtrust/mgr/storage", Audience: "workers", Platform: "linux"}, ""},
		{"with Shaman", 200, `{"audience":"workers","location":"/srv/flamenco","platform":"linux","shamanEnabled":true}`,
			flamenco.SharedStorage{Location: "/srv/flamenco", Audience: "workers", Platform: "linux", ShamanEnabled: true}, ""},
		{"no location", 200, `{"location":"","audience":"workers","platform":"linux","shamanEnabled":false}`, flamenco.SharedStorage{}, "location"},
		{"not JSON", 200, `<html>`, flamenco.SharedStorage{}, "is this address a Flamenco 3 Manager"},
		{"an old Manager", 404, `{"code":404,"message":"Not Found"}`, flamenco.SharedStorage{}, "Not Found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodGet || r.URL.Path != "/api/v3/configuration/shared-storage/workers/linux" || r.Header.Get("Authorization") != "" {
					t.Errorf("request %s %s, Authorization %q", r.Method, r.URL.Path, r.Header.Get("Authorization"))
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			c, err := flamenco.New(flamenco.Config{BaseURL: srv.URL, WorkerID: "w", Secret: "s"})
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.SharedStorage(context.Background(), "linux")
			switch {
			case tc.err == "" && (err != nil || got != tc.want):
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("error %v, want it to say %q", err, tc.err)
			}
		})
	}
}
