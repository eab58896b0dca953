// Package open opens a policy store from its URL (dir://PATH or
// consul://ADDR/PREFIX) and turns its tree into the controller's policy
// loads.
package open

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/store"
	"github.com/gatehouse-dev/gatehouse/pkg/store/consul"
	"github.com/gatehouse-dev/gatehouse/pkg/store/dir"
)

// Options configure Open.
type Options struct {
	// Resync and ExtraDirs: see dir.Options.
	Resync    time.Duration
	ExtraDirs <-chan []string
	// ConsulToken is the ACL token of a Consul store ("" uses
	// CONSUL_HTTP_TOKEN).
	ConsulToken string
}

// Opened is an opened store.
type Opened struct {
	store.Store
	// Name describes it for logs and status (the URL; never a token).
	Name string
	// Kind is "dir" or "consul".
	Kind string
	// Root is the directory of a dir store ("" otherwise): policies may
	// name files relative to it, outside the tree (../policies/x.rego).
	Root string
}

// Open parses a store URL and opens it; it does not contact Consul.
func Open(raw string, o Options) (*Opened, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return nil, fmt.Errorf("store %q: want dir://PATH or consul://ADDR/PREFIX", raw)
	}
	switch scheme {
	case "dir":
		if rest == "" {
			return nil, fmt.Errorf("store %q: dir:// needs a path (dir://policies, dir:///etc/gatehouse)", raw)
		}
		s, err := dir.New(rest, dir.Options{Resync: o.Resync, ExtraDirs: o.ExtraDirs})
		if err != nil {
			return nil, fmt.Errorf("store %q: %w", raw, err)
		}
		return &Opened{Store: s, Name: raw, Kind: "dir", Root: rest}, nil
	case "consul":
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("store %q: %w", raw, err)
		}
		switch {
		case u.Host == "":
			return nil, fmt.Errorf("store %q: consul:// needs the agent's address (consul://127.0.0.1:8500/gatehouse)", raw)
		case u.User != nil:
			return nil, fmt.Errorf("store %q: put no credentials in the URL: use --consul-token-file or CONSUL_HTTP_TOKEN", redact(u))
		case u.RawQuery != "" || u.Fragment != "":
			return nil, fmt.Errorf("store %q: consul:// takes no query or fragment", raw)
		}
		s, err := consul.New(consul.Config{Address: u.Host, Token: o.ConsulToken, Prefix: strings.TrimPrefix(u.Path, "/")})
		if err != nil {
			return nil, fmt.Errorf("store %q: %w", raw, err)
		}
		return &Opened{Store: s, Name: raw, Kind: "consul"}, nil
	}
	return nil, fmt.Errorf("store %q: unknown kind %q: want dir://PATH or consul://ADDR/PREFIX", raw, scheme)
}

func redact(u *url.URL) string {
	c := *u
	c.User = url.User("REDACTED")
	return c.String()
}

// PolicyOptions say how a load of this store's tree reads the files
// policies name: a dir store's from its directory (they may lie outside
// the tree, as ../policies/x.rego), others' from the tree. The controller
// and the admin API's validation of an apply use the same.
func (o *Opened) PolicyOptions() policy.Options {
	var opts policy.Options
	if o.Root != "" {
		opts.ReadFile = policy.DirReader(o.Root)
	}
	return opts
}

// Loader returns the controller's Load: it reads the store, records the
// outcome in h, and loads the policy from the tree. When the store cannot
// be read it returns prev, the last good policy, which keeps being served.
func (o *Opened) Loader(ctx context.Context, h *store.Health, log *slog.Logger) func(prev *policy.Snapshot) *policy.Snapshot {
	opts := o.PolicyOptions()
	return func(prev *policy.Snapshot) *policy.Snapshot {
		t, err := o.Read(ctx)
		if ctx.Err() != nil {
			return prev // shutting down
		}
		h.Observe(t, err, time.Now())
		if err != nil {
			log.Error("cannot read the policy store: serving the last good policy", "store", o.Name, "err", err)
			return prev
		}
		return policy.LoadWith(t.FS(), prev, opts)
	}
}
