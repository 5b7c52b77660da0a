// Package discovery finds a Flamenco Manager on the local network, as the
// stock flamenco-worker does when no Manager URL is configured: an SSDP
// M-SEARCH for the Manager's service type, then a version request to each
// answered address. Answers come from anyone on the LAN, so they are read
// as untrusted input: bounded in size, count and time.
package discovery

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ServiceType is the SSDP search target a Flamenco 3 Manager advertises.
const ServiceType = "urn:flamenco:manager:0"

// GroupAddr is the SSDP multicast group and port (UPnP Device Architecture).
const GroupAddr = "239.255.255.250:1900"

// Bounds on what the network may send us.
const (
	// maxDatagram is the read buffer of one answer: a Manager's answer is
	// ~300 bytes; a longer datagram is cut and then fails to parse.
	maxDatagram = 4 << 10
	// maxLocations caps the distinct addresses one search collects (a
	// Manager answers once per network interface it listens on).
	maxLocations = 32
	// searchMX is the MX header: answers come within this many seconds.
	// Flamenco's SSDP server waits at random up to MX (at least 1 s).
	searchMX = 1
)

// Answer is one usable SSDP answer: where the Manager says it is.
type Answer struct {
	// Location is the LOCATION header as sent (the Manager's UPnP
	// description, e.g. http://10.0.0.5:8080/upnp/description.xml).
	Location string
	// BaseURL is the Manager's API base taken from it: scheme and host, no path.
	BaseURL string
	// From is the address the answer came from.
	From string
}

// searchRequest is the M-SEARCH datagram. Flamenco's server needs MAN, MX
// and ST, and ST unquoted.
func searchRequest() []byte {
	return []byte("M-SEARCH * HTTP/1.1\r\n" +
		"HOST: " + GroupAddr + "\r\n" +
		"MAN: \"ssdp:discover\"\r\n" +
		fmt.Sprintf("MX: %d\r\n", searchMX) +
		"ST: " + ServiceType + "\r\n" +
		"\r\n")
}

// Search sends one M-SEARCH to group (GroupAddr; tests give a loopback
// address) and collects the answers for window, or until settle has passed
// since the first answer: a Manager sends its answers (one per interface)
// in quick succession. The answers are in arrival order, without duplicates.
// Malformed answers and those for other services are skipped; skipped
// reports why, for a debug log (nil: not reported).
func Search(ctx context.Context, group string, window, settle time.Duration, skipped func(from, why string)) ([]Answer, error) {
	s, err := openSearcher(group)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return s.search(ctx, window, settle, skipped)
}

// searcher is one UDP socket that searches, once or again and again: the
// answers to an earlier search that come late (a busy Manager answers one
// search at a time) still reach it.
type searcher struct {
	conn *net.UDPConn
	dst  *net.UDPAddr
}

func openSearcher(group string) (*searcher, error) {
	dst, err := net.ResolveUDPAddr("udp4", group)
	if err != nil {
		return nil, fmt.Errorf("SSDP group address %q: %w", group, err)
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4zero})
	if err != nil {
		return nil, fmt.Errorf("open a UDP socket for the SSDP search: %w", err)
	}
	return &searcher{conn: conn, dst: dst}, nil
}

func (s *searcher) Close() error { return s.conn.Close() }

// search sends an M-SEARCH and collects answers as Search says; an answer
// to an earlier search of s counts as well.
func (s *searcher) search(ctx context.Context, window, settle time.Duration, skipped func(from, why string)) ([]Answer, error) {
	conn := s.conn
	if _, err := conn.WriteTo(searchRequest(), s.dst); err != nil {
		return nil, fmt.Errorf("send the SSDP search to %s (is there a network with multicast, or a route to 239.0.0.0/8?): %w", s.dst, err)
	}
	// An expired deadline ends the read at once when ctx ends.
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Now()) })
	defer stop()

	deadline := time.Now().Add(window)
	conn.SetReadDeadline(deadline)
	var answers []Answer
	seen := map[string]bool{}
	buf := make([]byte, maxDatagram)
	for len(answers) < maxLocations {
		n, from, err := conn.ReadFromUDP(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				break
			}
			return answers, fmt.Errorf("read SSDP answers: %w", err)
		}
		a, why := parseAnswer(buf[:n])
		if why != "" {
			if skipped != nil {
				skipped(from.String(), why)
			}
			continue
		}
		a.From = from.String()
		if seen[a.BaseURL] {
			continue
		}
		seen[a.BaseURL] = true
		answers = append(answers, a)
		if len(answers) == 1 && settle < window {
			if d := time.Now().Add(settle); d.Before(deadline) {
				deadline = d
				conn.SetReadDeadline(deadline)
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return answers, err
	}
	return answers, nil
}

// parseAnswer reads one datagram as an SSDP search answer for ServiceType;
// why says what was wrong with it ("" when it is usable).
func parseAnswer(data []byte) (Answer, string) {
	if len(data) >= maxDatagram {
		return Answer{}, fmt.Sprintf("longer than %d bytes", maxDatagram)
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(data)), nil)
	if err != nil {
		return Answer{}, "not an HTTP-style answer: " + err.Error()
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Answer{}, "status " + resp.Status
	}
	st := resp.Header.Get("ST")
	if st != ServiceType && !strings.HasSuffix(resp.Header.Get("USN"), "::"+ServiceType) {
		return Answer{}, fmt.Sprintf("for another service (ST %q)", st)
	}
	loc := strings.TrimSpace(resp.Header.Get("LOCATION"))
	base, problem := baseURL(loc)
	if problem != "" {
		return Answer{}, fmt.Sprintf("LOCATION %q: %s", loc, problem)
	}
	return Answer{Location: loc, BaseURL: base}, ""
}

// baseURL turns an answered LOCATION into the Manager's API base: the
// Manager serves its description and its API from the same root.
func baseURL(location string) (string, string) {
	if location == "" {
		return "", "missing"
	}
	if len(location) > 1024 {
		return "", "longer than 1024 bytes"
	}
	u, err := url.Parse(location)
	if err != nil {
		return "", err.Error()
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", "not an http or https URL"
	case u.Hostname() == "":
		return "", "no host"
	case u.User != nil:
		return "", "has user credentials"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host}).String(), ""
}
