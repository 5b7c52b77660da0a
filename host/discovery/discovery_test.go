package discovery

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// responder is a fake SSDP server on loopback (real UDP): it checks each
// M-SEARCH as Flamenco's server does and answers with its datagrams.
type responder struct {
	conn    *net.UDPConn
	answers func() [][]byte
	mu      sync.Mutex
	bad     []string // what was wrong with the searches it got
	got     int
	delay   time.Duration // before each answer
}

func newResponder(t *testing.T, answers ...string) *responder {
	t.Helper()
	return answeringWith(t, func() [][]byte {
		out := make([][]byte, len(answers))
		for i, a := range answers {
			out[i] = []byte(a)
		}
		return out
	})
}

// answeringWith is a responder that answers each search with what answers
// returns then.
func answeringWith(t *testing.T, answers func() [][]byte) *responder {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	r := &responder{conn: conn, answers: answers}
	done := make(chan struct{})
	go r.serve(done)
	t.Cleanup(func() { conn.Close(); <-done })
	return r
}

func (r *responder) addr() string { return r.conn.LocalAddr().String() }

func (r *responder) serve(done chan struct{}) {
	defer close(done)
	buf := make([]byte, 2048)
	for {
		n, from, err := r.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(buf[:n])))
		r.mu.Lock()
		r.got++
		switch {
		case err != nil:
			r.bad = append(r.bad, err.Error())
		case req.Method != "M-SEARCH" || req.RequestURI != "*":
			r.bad = append(r.bad, "request line "+req.Method+" "+req.RequestURI)
		case req.Header.Get("MAN") != `"ssdp:discover"` || req.Header.Get("MX") == "" || req.Header.Get("ST") != ServiceType:
			r.bad = append(r.bad, fmt.Sprintf("headers %v", req.Header))
		}
		r.mu.Unlock()
		answers := r.answers()
		send := func() {
			for _, a := range answers {
				_, _ = r.conn.WriteToUDP(a, from)
			}
		}
		if r.delay > 0 {
			// A Manager busy with other searches answers late.
			time.AfterFunc(r.delay, send)
			continue
		}
		send()
	}
}

func (r *responder) check(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.got == 0 {
		t.Error("the responder got no M-SEARCH")
	}
	for _, b := range r.bad {
		t.Errorf("malformed M-SEARCH: %s", b)
	}
}

// answer is an SSDP answer as Flamenco's server sends it.
func answer(location string) string {
	return "HTTP/1.1 200 OK\r\nST: " + ServiceType + "\r\nUSN: uuid:aa80bc5f-d0af-46b8-8630-23bd7e80ec4d::" + ServiceType +
		"\r\nLOCATION: " + location + "\r\nCACHE-CONTROL: max-age=3600\r\nEXT: \r\n\r\n"
}

// fakeManager answers /api/v3/version as a Manager does.
func fakeManager(t *testing.T, name string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v3/version" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"version":"3.8.5","shortversion":"3.8","name":%q,"git":"v3.8.5"}`, name)
	}))
	t.Cleanup(s.Close)
	return s
}

// deadURL is an http URL where nothing listens.
func deadURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func TestFind(t *testing.T) {
	good := fakeManager(t, "farm")
	other := fakeManager(t, "farm-2")
	notManager := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(notManager.Close)
	dead := deadURL(t)
	hostile := strings.Repeat("X", maxDatagram+10)

	tests := []struct {
		name    string
		answers []string
		want    []string // usable Manager URLs, in order
	}{
		{"one Manager", []string{answer(good.URL + "/upnp/description.xml")}, []string{good.URL}},
		{"the answers' order, duplicates once", []string{
			answer(other.URL + "/upnp/description.xml"),
			answer(good.URL + "/upnp/description.xml"),
			answer(other.URL + "/upnp/description.xml"),
		}, []string{other.URL, good.URL}},
		{"unreachable and non-Manager addresses are skipped", []string{
			answer(dead + "/upnp/description.xml"),
			answer(notManager.URL + "/upnp/description.xml"),
			answer(good.URL + "/upnp/description.xml"),
		}, []string{good.URL}},
		{"malformed and foreign answers are skipped", []string{
			"garbage",
			hostile,
			"HTTP/1.1 200 OK\r\nST: urn:schemas-upnp-org:device:MediaServer:1\r\nLOCATION: " + good.URL + "/\r\n\r\n",
			"HTTP/1.1 404 Not Found\r\nST: " + ServiceType + "\r\nLOCATION: " + good.URL + "/\r\n\r\n",
			answer("ftp://" + strings.TrimPrefix(good.URL, "http://") + "/x"),
			answer("http://user:pw@" + strings.TrimPrefix(good.URL, "http://") + "/x"),
			answer(""),
			answer(good.URL + "/upnp/description.xml"),
		}, []string{good.URL}},
		{"nobody usable", []string{answer(dead + "/")}, nil},
		{"no answer", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newResponder(t, tt.answers...)
			found, err := Find(context.Background(), Options{Group: r.addr(), Window: 2 * time.Second, Settle: 500 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range found {
				got = append(got, m.URL)
				if m.Version != "3.8.5" || m.Name == "" {
					t.Errorf("Manager %s: version %q name %q, want 3.8.5 and its name", m.URL, m.Version, m.Name)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("found %v, want %v", got, tt.want)
			}
			r.check(t)
		})
	}
}

func TestParseAnswer(t *testing.T) {
	tests := []struct {
		datagram string
		wantBase string // "" when it must be refused
	}{
		{answer("http://10.0.0.5:8080/upnp/description.xml"), "http://10.0.0.5:8080"},
		{answer("https://manager.example/upnp/description.xml"), "https://manager.example"},
		{answer("http://[fe80::1]:8080/upnp/description.xml"), "http://[fe80::1]:8080"},
		// Found by its USN alone, as gossdp matches it.
		{"HTTP/1.1 200 OK\r\nUSN: uuid:x::" + ServiceType + "\r\nLOCATION: http://h:1/\r\n\r\n", "http://h:1"},
		{answer("http:///nohost"), ""},
		{answer("javascript:alert(1)"), ""},
		{answer("http://h/" + strings.Repeat("a", 1100)), ""},
		{"NOTIFY * HTTP/1.1\r\nNT: " + ServiceType + "\r\nLOCATION: http://h:1/\r\n\r\n", ""},
		{"", ""},
	}
	for _, tt := range tests {
		a, why := parseAnswer([]byte(tt.datagram))
		if a.BaseURL != tt.wantBase || (tt.wantBase == "") != (why != "") {
			t.Errorf("parseAnswer(%.60q) = %q, %q; want base %q", tt.datagram, a.BaseURL, why, tt.wantBase)
		}
	}
}

func TestWaitRetriesUntilAManagerAnswers(t *testing.T) {
	good := fakeManager(t, "late")
	var mu sync.Mutex
	searches := 0
	// Silent for the first two searches, as a Manager still booting.
	r := answeringWith(t, func() [][]byte {
		mu.Lock()
		defer mu.Unlock()
		searches++
		if searches < 3 {
			return nil
		}
		return [][]byte{[]byte(answer(good.URL + "/upnp/description.xml"))}
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	found, err := Wait(ctx, Options{Group: r.addr(), Window: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 {
		t.Fatalf("found %+v, want one Manager", found)
	}
	if m := found[0]; m.URL != good.URL || m.Name != "late" {
		t.Errorf("found %+v, want %s", m, good.URL)
	}
	mu.Lock()
	defer mu.Unlock()
	if searches != 3 {
		t.Errorf("%d searches, want 3", searches)
	}
}

func TestWaitHearsALateManager(t *testing.T) {
	good := fakeManager(t, "slow")
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	// Answers come 0.8 s after each search, after the first search's window.
	r := &responder{conn: conn, delay: 800 * time.Millisecond, answers: func() [][]byte {
		return [][]byte{[]byte(answer(good.URL + "/"))}
	}}
	done := make(chan struct{})
	go r.serve(done)
	t.Cleanup(func() { conn.Close(); <-done })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	found, err := Wait(ctx, Options{Group: r.addr(), Window: 300 * time.Millisecond})
	if err != nil || len(found) != 1 || found[0].URL != good.URL {
		t.Fatalf("Wait: %+v, %v; want %s", found, err, good.URL)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.got != 2 {
		t.Errorf("%d searches, want 2: the second listens long enough", r.got)
	}
}

// TestWaitHearsALateAnswerToAnEarlierSearch: a busy Manager answers the
// first search only, after that search's window; the answer still counts.
func TestWaitHearsALateAnswerToAnEarlierSearch(t *testing.T) {
	good := fakeManager(t, "busy")
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	var answered sync.Once
	r := &responder{conn: conn, delay: 500 * time.Millisecond}
	r.answers = func() [][]byte {
		var out [][]byte
		answered.Do(func() { out = [][]byte{[]byte(answer(good.URL + "/"))} })
		return out
	}
	done := make(chan struct{})
	go r.serve(done)
	t.Cleanup(func() { conn.Close(); <-done })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	found, err := Wait(ctx, Options{Group: r.addr(), Window: 200 * time.Millisecond})
	if err != nil || len(found) != 1 || found[0].URL != good.URL {
		t.Fatalf("Wait: %+v, %v; want %s", found, err, good.URL)
	}
}

func TestWaitEndsWithItsContext(t *testing.T) {
	r := newResponder(t)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := Wait(ctx, Options{Group: r.addr(), Window: 200 * time.Millisecond})
		errc <- err
	}()
	cancel()
	err := <-errc
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "no Flamenco Manager found") {
		t.Errorf("Wait after cancel: %v, want a 'no Flamenco Manager found' wrapping context.Canceled", err)
	}
}
