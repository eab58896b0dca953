package consul

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/gatehouse-dev/gatehouse/pkg/registry"
)

// Config configures a Source. Zero values take the defaults noted.
type Config struct {
	// Address of the Consul agent: host:port or a URL (http://, https://,
	// unix://). "" uses the consul/api default: CONSUL_HTTP_ADDR, else
	// 127.0.0.1:8500.
	Address string
	// Token is the ACL token; "" uses CONSUL_HTTP_TOKEN (if set).
	Token string
	// OnUpdate receives every Service's endpoints, keyed by policy Service
	// name, whenever one of them changes. A Service absent from the map has no
	// successful read yet. Called from one goroutine at a time.
	OnUpdate func(registry.Snapshot)

	Workers     int           // concurrent service reads (default 8)
	MaxConns    int           // connections to the agent, all kinds (default 32)
	WaitTime    time.Duration // bound of a blocking query (default 1m)
	ReadTimeout time.Duration // bound of a plain read (default 10s)
	MinInterval time.Duration // least time between two detector reads when the index moved (default 20ms)
	// CatalogMinInterval is MinInterval for the registration detector, whose
	// every wake-up re-reads all watches of its datacenter (default 200ms:
	// at most 5 full re-reads a second under constant registration churn).
	CatalogMinInterval time.Duration
	IdleInterval       time.Duration // least time between two detector reads when it did not (default 1s)
	BackoffBase        time.Duration // first retry delay after an error (default 200ms)
	BackoffMax         time.Duration // longest retry delay (default 5s)
	Resync             time.Duration // re-read every watch this often (default 5m; <0 disables)
}

func (c *Config) defaults() {
	setDur := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.Workers <= 0 {
		c.Workers = 8
	}
	if c.MaxConns <= 0 {
		c.MaxConns = 32
	}
	if c.MaxConns < c.Workers+2 {
		c.MaxConns = c.Workers + 2
	}
	setDur(&c.WaitTime, time.Minute)
	setDur(&c.ReadTimeout, 10*time.Second)
	setDur(&c.MinInterval, 20*time.Millisecond)
	setDur(&c.CatalogMinInterval, 200*time.Millisecond)
	setDur(&c.IdleInterval, time.Second)
	setDur(&c.BackoffBase, 200*time.Millisecond)
	setDur(&c.BackoffMax, 5*time.Second)
	setDur(&c.Resync, 5*time.Minute)
}

// newClient builds the consul/api client over one bounded, shared transport.
func newClient(c Config) (*api.Client, string, error) {
	ac := api.DefaultConfig() // reads CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN, TLS variables
	if c.Address != "" {
		ac.Address = c.Address
		ac.Scheme = "http"
	}
	if c.Token != "" {
		ac.Token = c.Token
	}
	ac.Transport = &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxConnsPerHost:     c.MaxConns,
		MaxIdleConns:        c.MaxConns,
		MaxIdleConnsPerHost: c.MaxConns,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	addr := ac.Address
	cl, err := api.NewClient(ac)
	if err != nil {
		return nil, addr, fmt.Errorf("consul client for %q: %w", addr, err)
	}
	return cl, addr, nil
}

// backoff returns the delay before retry number attempt (0-based): base
// doubled per attempt, capped at max, with "equal jitter" (a uniformly random
// half on top of a fixed half) so that many watches retrying at once spread out.
func backoff(attempt int, base, max time.Duration) time.Duration {
	d := base
	for i := 0; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(half)+1))
}
