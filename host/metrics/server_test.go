package metrics_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/metrics"
	"github.com/cajonfarm/cajon/internal/testwait"
	"golang.org/x/crypto/bcrypt"
)

// serverSideConns counts this process's descriptors that are connections
// accepted on port: sockets whose inode /proc/self/net/tcp lists with that
// local port. Counting all descriptors would also count those other tests
// are still closing; connections waiting in the kernel's backlog have no
// descriptor, so they are not counted.
func serverSideConns(t *testing.T, port string) int {
	t.Helper()
	table, err := os.ReadFile("/proc/self/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	suffix := fmt.Sprintf(":%04X", p)
	const established = "01" // the listening socket is 0A
	onPort := map[string]bool{}
	for _, line := range strings.Split(string(table), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 9 && strings.HasSuffix(f[1], suffix) && f[3] == established && f[9] != "0" {
			onPort["socket:["+f[9]+"]"] = true
		}
	}
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range es {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil && onPort[target] {
			n++
		}
	}
	return n
}

// TestServerLimitsConnections opens more idle connections than the server
// serves at once (issue 19: 1,100 idle keep-alives took every file
// descriptor): the server holds no more than its limit, and the health
// check answers while they are open.
func TestServerLimitsConnections(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts file descriptors in /proc/self/fd")
	}
	m := metrics.New()
	srv, err := metrics.Listen("127.0.0.1:0", m.Handler(), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Close(ctx)
	})
	limit := metrics.ConnectionLimit()
	if limit > metrics.MaxConnections {
		t.Fatalf("ConnectionLimit() = %d, above MaxConnections %d", limit, metrics.MaxConnections)
	}
	_, port, err := net.SplitHostPort(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	n := limit + 50
	var conns []net.Conn
	for range n {
		c, err := net.Dial("tcp", srv.Addr())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	accepted := func() int { return serverSideConns(t, port) }
	testwait.For(t, fmt.Sprintf("the server to accept %d connections", limit), func() bool { return accepted() >= limit })
	// One more for the moment a new connection takes a silent one's place.
	if got := accepted(); got > limit+1 {
		t.Errorf("the server holds %d connections, above its limit of %d", got, limit)
	}
	// A scrape takes the place of the oldest silent connection.
	client := &http.Client{Timeout: 2 * metrics.ReadHeaderTimeout}
	testwait.For(t, "/healthz to answer with the idle connections still open", func() bool {
		resp, err := client.Get("http://" + srv.Addr() + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// selfSigned writes a certificate for 127.0.0.1 and its key into dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cajon test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestServerTLSAndBasicAuth serves with a node_exporter style web config
// file: HTTPS only, and only for the configured user.
func TestServerTLSAndBasicAuth(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webConfig := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(webConfig, fmt.Appendf(nil, "tls_server_config:\n  cert_file: %s\n  key_file: %s\nbasic_auth_users:\n  scraper: %s\n", certFile, keyFile, hash), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, err := metrics.Listen("127.0.0.1:0", metrics.New().Handler(), webConfig)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Close(ctx)
	})
	if want := "https://" + srv.Addr(); srv.URL() != want {
		t.Errorf("URL() = %q, want %q", srv.URL(), want)
	}
	httpsClient := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	cases := []struct {
		name       string
		url        string
		user, pass string
		want       int
	}{
		{"the configured user", "https://" + srv.Addr() + "/metrics", "scraper", "s3cret", http.StatusOK},
		{"no credentials", "https://" + srv.Addr() + "/metrics", "", "", http.StatusUnauthorized},
		{"a wrong password", "https://" + srv.Addr() + "/healthz", "scraper", "guess", http.StatusUnauthorized},
		{"plain HTTP", "http://" + srv.Addr() + "/metrics", "scraper", "s3cret", http.StatusBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest("GET", tc.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.user != "" {
				req.SetBasicAuth(tc.user, tc.pass)
			}
			resp, err := httpsClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
}

// TestServerRefusesABadWebConfig: a web config file that cannot work stops
// the start with the file and the setting named.
func TestServerRefusesABadWebConfig(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"missing certificate": "tls_server_config:\n  cert_file: " + filepath.Join(dir, "none.pem") + "\n  key_file: " + filepath.Join(dir, "none.key") + "\n",
		"not YAML":            "tls_server_config: [\n",
		"unknown key":         "tls_server_cnofig:\n  cert_file: x\n",
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".yml")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			srv, err := metrics.Listen("127.0.0.1:0", metrics.New().Handler(), path)
			if err == nil {
				srv.Close(context.Background())
				t.Fatal("Listen accepted it")
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "metrics.web_config_file") {
				t.Errorf("the error does not name the file and the setting: %v", err)
			}
		})
	}
}
