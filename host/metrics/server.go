package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"
	"gopkg.in/yaml.v3"
)

// Handler serves /metrics (Prometheus text format) and /healthz (the checks).
func (m *Metrics) Handler(checks ...Check) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg}))
	mux.Handle("GET /healthz", healthz(checks))
	return mux
}

// Limits of the server. A scrape is one small request: a client that is slow
// or idle must not keep its connection, and all clients together must not
// take the file descriptors that task logs and plugins need.
const (
	// MaxConnections is the most connections served at once. At the limit
	// a new one takes the place of the oldest that is not in a request
	// (evictingListener); when all are, more wait in the kernel's backlog,
	// taking no file descriptor of the worker's.
	MaxConnections = 64
	// fdShare: the connections take at most 1/fdShare of the process's
	// file descriptor limit (RLIMIT_NOFILE), if that is less.
	fdShare = 8
	// minConnections is the floor of the limit under a tiny fd limit.
	minConnections = 4

	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 10 * time.Second
	WriteTimeout      = 30 * time.Second
	IdleTimeout       = 30 * time.Second
	maxHeaderBytes    = 16 << 10
)

// ConnectionLimit is how many connections the server serves at once: at
// most MaxConnections and 1/8 of the file descriptor limit (one more for
// the moment a new connection takes the place of a silent one).
func ConnectionLimit() int {
	n := MaxConnections
	if fds := fileLimit(); fds > 0 {
		n = min(n, fds/fdShare)
	}
	return max(n, minConnections)
}

// Server serves a Handler over HTTP, or HTTPS with basic auth as a web
// config file says. Create it with Listen.
type Server struct {
	srv    *http.Server
	addr   net.Addr
	scheme string
	done   chan error
}

// Listen binds addr at once (so a port in use is an error at start-up) and
// serves h on it in the background until Close. webConfig is a web config
// file in the format of Prometheus exporters (node_exporter's
// --web.config.file: tls_server_config, basic_auth_users, ...), "" for
// plain HTTP; it is checked here, and read again on each connection as
// exporter-toolkit does.
func Listen(addr string, h http.Handler, webConfig string) (*Server, error) {
	scheme := "http"
	if webConfig != "" {
		if err := web.Validate(webConfig); err != nil {
			return nil, fmt.Errorf("metrics: web config file %s (metrics.web_config_file): %w", webConfig, err)
		}
		tls, err := configuresTLS(webConfig)
		if err != nil {
			return nil, fmt.Errorf("metrics: web config file %s (metrics.web_config_file): %w", webConfig, err)
		}
		if tls {
			scheme = "https"
		}
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on %s (metrics.listen): %w", addr, err)
	}
	s := &Server{
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: ReadHeaderTimeout,
			ReadTimeout:       ReadTimeout,
			WriteTimeout:      WriteTimeout,
			IdleTimeout:       IdleTimeout,
			MaxHeaderBytes:    maxHeaderBytes,
		},
		addr:   l.Addr(),
		scheme: scheme,
		done:   make(chan error, 1),
	}
	limited := newEvictingListener(l, ConnectionLimit())
	s.srv.ConnState = limited.track
	flags := &web.FlagConfig{WebConfigFile: &webConfig, WebListenAddresses: &[]string{}, WebSystemdSocket: new(bool)}
	go func() {
		err := web.Serve(limited, s.srv, flags, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	return s, nil
}

// configuresTLS reports whether a web config file turns TLS on.
func configuresTLS(path string) (bool, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	var c struct {
		TLS map[string]any `yaml:"tls_server_config"`
	}
	if err := yaml.Unmarshal(raw, &c); err != nil {
		return false, err
	}
	return len(c.TLS) > 0, nil
}

// Addr is the address served, with the port chosen when addr asked for 0.
func (s *Server) Addr() string { return s.addr.String() }

// URL is the server's base URL: http or https, and Addr.
func (s *Server) URL() string { return s.scheme + "://" + s.addr.String() }

// Close stops serving, letting requests in flight finish until ctx ends.
func (s *Server) Close(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if serveErr := <-s.done; serveErr != nil && err == nil {
		err = serveErr
	}
	if err != nil {
		return fmt.Errorf("metrics: stop serving on %s: %w", s.addr, err)
	}
	return nil
}
