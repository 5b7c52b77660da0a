package discovery

import (
	"net/url"
	"testing"
)

// FuzzParseAnswer feeds the parser what anyone on the LAN may send: it must
// never panic, and what it accepts must be a clean http(s) base URL.
func FuzzParseAnswer(f *testing.F) {
	f.Add([]byte(answer("http://10.0.0.5:8080/upnp/description.xml")))
	f.Add([]byte("HTTP/1.1 200 OK\r\nUSN: uuid:x::" + ServiceType + "\r\nLOCATION: https://[::1]:1/\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nST: " + ServiceType + "\r\nLOCATION: http://u:p@h/\r\n\r\n"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, why := parseAnswer(data)
		if why != "" {
			return
		}
		u, err := url.Parse(a.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil || u.Path != "" || u.RawQuery != "" {
			t.Fatalf("accepted %q as base URL %q", data, a.BaseURL)
		}
	})
}
