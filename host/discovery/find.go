package discovery

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/cajonfarm/cajon/host/backoff"

	"github.com/cajonfarm/cajon/host/flamenco"
	"github.com/hashicorp/go-hclog"
)

// Defaults of a search; one definition each.
const (
	// DefaultWindow is how long one search listens: the answers' MX plus
	// time for them to cross the network.
	DefaultWindow = searchMX*time.Second + 500*time.Millisecond
	// DefaultSettle is how long a search waits for more answers after the
	// first one.
	DefaultSettle = 300 * time.Millisecond
	// DefaultCheckTimeout bounds the version request to one answered address.
	DefaultCheckTimeout = 5 * time.Second
	// What Wait adds to the window of each search after the first: from
	// the first to the longest.
	retryMin = time.Second
	retryMax = 30 * time.Second
)

// Options tune a search; the zero value is the stock worker's search on
// the LAN.
type Options struct {
	// Group is the SSDP group to search; empty means GroupAddr.
	Group string
	// Window and Settle: see Search. Zero means the defaults.
	Window, Settle time.Duration
	// CheckTimeout bounds each version request; zero means DefaultCheckTimeout.
	CheckTimeout time.Duration
	// Logger gets what was found and skipped; nil logs nothing.
	Logger hclog.Logger
}

func (o Options) withDefaults() Options {
	if o.Group == "" {
		o.Group = GroupAddr
	}
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	if o.Settle <= 0 {
		o.Settle = DefaultSettle
	}
	if o.CheckTimeout <= 0 {
		o.CheckTimeout = DefaultCheckTimeout
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	return o
}

// Manager is a Manager that answered the search and its version request.
type Manager struct {
	URL      string // API base, e.g. http://10.0.0.5:8080
	Name     string // manager_name in its config
	Version  string
	Location string // the LOCATION it answered with
}

// Find searches once and checks every answered address with a version
// request, in parallel. It returns the usable Managers in the order their
// answers came; the first is the one to use. No answer, or none usable, is
// an empty list and a nil error; the error is for a search that could not
// be made.
func Find(ctx context.Context, opt Options) ([]Manager, error) {
	opt = opt.withDefaults()
	s, err := openSearcher(opt.Group)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return find(ctx, s, opt)
}

// find is Find on the socket s.
func find(ctx context.Context, s *searcher, opt Options) ([]Manager, error) {
	log := opt.Logger
	answers, err := s.search(ctx, opt.Window, opt.Settle, func(from, why string) {
		log.Debug("ignored an SSDP answer", "from", from, "why", why)
	})
	if err != nil {
		return nil, err
	}
	found := make([]*Manager, len(answers))
	var wg sync.WaitGroup
	for i, a := range answers {
		wg.Go(func() {
			m, err := check(ctx, a, opt.CheckTimeout)
			if err != nil {
				// Expected for addresses of interfaces this machine cannot
				// reach; not worth more than a debug line.
				log.Debug("an answered Manager address does not work", "url", a.BaseURL, "from", a.From, "error", err)
				return
			}
			found[i] = &m
		})
	}
	wg.Wait()
	var usable []Manager
	for _, m := range found {
		if m != nil {
			usable = append(usable, *m)
		}
	}
	if len(answers) > 0 && len(usable) == 0 {
		urls := make([]string, len(answers))
		for i, a := range answers {
			urls[i] = a.BaseURL
		}
		log.Warn(fmt.Sprintf("SSDP found %d Manager addresses (%s), but none answered /api/v3/version", len(answers), strings.Join(urls, ", ")))
	}
	return usable, nil
}

// check asks an answered address for the Manager's version.
func check(ctx context.Context, a Answer, timeout time.Duration) (Manager, error) {
	c, err := flamenco.New(flamenco.Config{BaseURL: a.BaseURL, Timeout: timeout})
	if err != nil {
		return Manager{}, err
	}
	v, err := c.Version(ctx)
	if err != nil {
		return Manager{}, err
	}
	return Manager{URL: a.BaseURL, Name: v.Name, Version: v.Version, Location: a.Location}, nil
}

// Wait searches until a usable Manager answers or ctx ends. Each search
// listens longer than the one before (the window, plus 1 s doubling to 30 s,
// ±20%), and all of them on one socket: a Manager that answers late (its
// SSDP server answers searches one at a time, each after a random wait of
// up to MX) is still heard, even when its answer is to an earlier search,
// and an idle network gets fewer searches. It returns the usable Managers of
// the search that found some; the first is the one to use. It logs each
// fruitless search as a warning, and the Manager it picks.
func Wait(ctx context.Context, opt Options) ([]Manager, error) {
	opt = opt.withDefaults()
	log := opt.Logger
	base := opt.Window
	var extra time.Duration
	grow := backoff.Backoff{Min: retryMin, Max: retryMax, Jitter: 0.2}
	var s *searcher
	defer func() {
		if s != nil {
			s.Close()
		}
	}()
	for attempt := 1; ; attempt++ {
		start := time.Now()
		opt.Window = base + extra
		var found []Manager
		var err error
		if s == nil {
			s, err = openSearcher(opt.Group)
		}
		if err == nil {
			found, err = find(ctx, s, opt)
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("no Flamenco Manager found on the network: %w", ctx.Err())
		}
		if len(found) > 0 {
			m := found[0]
			log.Info("found a Flamenco Manager on the network (SSDP)", "url", m.URL, "name", m.Name, "version", m.Version,
				"took", time.Since(start).Round(time.Millisecond), "searches", attempt)
			if len(found) > 1 {
				others := make([]string, 0, len(found)-1)
				for _, o := range found[1:] {
					others = append(others, o.URL)
				}
				log.Info("other addresses answered too; using the first", "others", strings.Join(others, ", "))
			}
			return found, nil
		}
		extra = grow.Next()
		if err == nil {
			log.Warn("no Flamenco Manager answered the SSDP search (is its autodiscoverable setting on, and multicast allowed between here and there? or set manager.url); searching again",
				"attempt", attempt, "next_listens_for", (base + extra).Round(time.Millisecond))
			continue
		}
		// The search could not be sent (no network yet): wait, then retry
		// on a new socket.
		if s != nil {
			s.Close()
			s = nil
		}
		log.Warn("could not search for a Flamenco Manager; retrying", "attempt", attempt, "retry_in", extra.Round(time.Millisecond), "error", err)
		t := time.NewTimer(extra)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("no Flamenco Manager found on the network: %w", ctx.Err())
		case <-t.C:
		}
	}
}
