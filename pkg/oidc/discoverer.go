package oidc

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Backoff after failed fetches: MinBackoff, doubling, at most the refresh
// interval (and never more than MaxBackoff).
const (
	MinBackoff = time.Second
	MaxBackoff = 5 * time.Minute
)

// Config configures a Discoverer.
type Config struct {
	// OnChange is called (from the Discoverer's goroutine) whenever an
	// issuer's jwks_uri becomes known or changes, so that the
	// configuration is rebuilt with it.
	OnChange func()
	Logger   *slog.Logger
	// Registerer, if set, gets the discovery metrics.
	Registerer prometheus.Registerer
	// Client overrides the HTTP client (tests); default NewClient.
	Client interface {
		Fetch(ctx context.Context, t Target) (Document, error)
	}
}

// IssuerStatus is what `gatehouse status` shows for one issuer.
type IssuerStatus struct {
	Issuer  string `json:"issuer"`
	JWKSURI string `json:"jwks_uri,omitempty"` // last good; "" if never discovered
	// The last good browser-login endpoints (oauth2Login issuers).
	AuthorizationEndpoint string    `json:"authorization_endpoint,omitempty"`
	TokenEndpoint         string    `json:"token_endpoint,omitempty"`
	EndSessionEndpoint    string    `json:"end_session_endpoint,omitempty"`
	LastSuccess           time.Time `json:"last_success,omitempty"`
	LastError             string    `json:"last_error,omitempty"` // of the newest attempt; "" if it succeeded
	LastErrorAt           time.Time `json:"last_error_at,omitempty"`
	Failures              int       `json:"consecutive_failures,omitempty"`
	NextAttempt           time.Time `json:"next_attempt"`
}

type entry struct {
	target  Target
	refresh time.Duration
	st      IssuerStatus
}

// Discoverer keeps the jwks_uri of every issuer it is given fresh: fetched
// at once, then every refresh interval, with backoff after errors. An
// error never forgets the last good value.
type Discoverer struct {
	cfg     Config
	fetch   func(ctx context.Context, t Target) (Document, error)
	wake    chan struct{}
	now     func() time.Time
	up      *prometheus.GaugeVec
	failed  *prometheus.CounterVec
	mu      sync.Mutex
	entries map[Target]*entry
}

// New returns a Discoverer; start it with Run.
func New(cfg Config) *Discoverer {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	d := &Discoverer{cfg: cfg, wake: make(chan struct{}, 1), now: time.Now, entries: map[Target]*entry{}}
	if cfg.Client != nil {
		d.fetch = cfg.Client.Fetch
	} else {
		c := NewClient(AllowsInsecure)
		d.fetch = func(ctx context.Context, t Target) (Document, error) { return Fetch(ctx, c, t) }
	}
	d.up = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "gatehouse_oidc_discovery_up",
		Help: "1 if the newest OpenID Connect discovery fetch of the issuer succeeded, 0 if it failed (the last good jwks_uri, if any, is still used).",
	}, []string{"issuer"})
	d.failed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_oidc_discovery_failures_total",
		Help: "Failed OpenID Connect discovery fetches, by issuer.",
	}, []string{"issuer"})
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(d.up, d.failed)
	}
	return d
}

// Set replaces the issuers to discover (with the shortest refresh
// interval any Authentication asks for). New ones are fetched at once;
// the state of the others is kept.
func (d *Discoverer) Set(targets map[Target]time.Duration) {
	d.mu.Lock()
	for t := range d.entries {
		if _, ok := targets[t]; !ok {
			delete(d.entries, t)
			d.up.DeleteLabelValues(t.Issuer)
		}
	}
	for t, r := range targets {
		if e, ok := d.entries[t]; ok {
			e.refresh = r
			continue
		}
		d.entries[t] = &entry{target: t, refresh: r, st: IssuerStatus{Issuer: t.Issuer, NextAttempt: d.now()}}
	}
	d.mu.Unlock()
	d.kick()
}

// JWKSURI returns the last good jwks_uri of t, "" if none.
func (d *Discoverer) JWKSURI(t Target) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e := d.entries[t]; e != nil {
		return e.st.JWKSURI
	}
	return ""
}

// Endpoints returns the last good document of t (its issuer, jwks_uri and
// login endpoints), empty if none.
func (d *Discoverer) Endpoints(t Target) Document {
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.entries[t]
	if e == nil || e.st.JWKSURI == "" {
		return Document{}
	}
	return Document{Issuer: t.Issuer, JWKSURI: e.st.JWKSURI, AuthorizationEndpoint: e.st.AuthorizationEndpoint,
		TokenEndpoint: e.st.TokenEndpoint, EndSessionEndpoint: e.st.EndSessionEndpoint}
}

// Status lists every issuer's state, by issuer.
func (d *Discoverer) Status() []IssuerStatus {
	d.mu.Lock()
	out := make([]IssuerStatus, 0, len(d.entries))
	for _, e := range d.entries {
		out = append(out, e.st)
	}
	d.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Issuer < out[j].Issuer })
	return out
}

func (d *Discoverer) kick() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run fetches due issuers until ctx ends.
func (d *Discoverer) Run(ctx context.Context) {
	for {
		next := d.runDue(ctx)
		wait := MaxBackoff
		if !next.IsZero() {
			wait = max(next.Sub(d.now()), 0)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-d.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// runDue fetches every issuer whose attempt is due and returns the
// earliest next attempt (zero: no issuers).
func (d *Discoverer) runDue(ctx context.Context) time.Time {
	d.mu.Lock()
	var due []Target
	for t, e := range d.entries {
		if !e.st.NextAttempt.After(d.now()) {
			due = append(due, t)
		}
	}
	d.mu.Unlock()
	changed := false
	for _, t := range due {
		doc, err := d.fetch(ctx, t)
		if ctx.Err() != nil {
			return time.Time{}
		}
		changed = d.record(t, doc, err) || changed
	}
	if changed && d.cfg.OnChange != nil {
		d.cfg.OnChange()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var next time.Time
	for _, e := range d.entries {
		if next.IsZero() || e.st.NextAttempt.Before(next) {
			next = e.st.NextAttempt
		}
	}
	return next
}

// record notes one attempt's result and reports whether the jwks_uri
// changed.
func (d *Discoverer) record(t Target, doc Document, err error) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.entries[t]
	if e == nil {
		return false // removed while fetching
	}
	now := d.now()
	if err != nil {
		e.st.Failures++
		e.st.LastError, e.st.LastErrorAt = err.Error(), now
		e.st.NextAttempt = now.Add(backoff(e.st.Failures, e.refresh))
		d.up.WithLabelValues(t.Issuer).Set(0)
		d.failed.WithLabelValues(t.Issuer).Inc()
		d.cfg.Logger.Warn("OpenID Connect discovery failed; the last good jwks_uri (if any) stays in use",
			"issuer", t.Issuer, "failures", e.st.Failures, "retry_in", e.st.NextAttempt.Sub(now), "err", err)
		return false
	}
	changed := e.st.JWKSURI != doc.JWKSURI || e.st.AuthorizationEndpoint != doc.AuthorizationEndpoint ||
		e.st.TokenEndpoint != doc.TokenEndpoint || e.st.EndSessionEndpoint != doc.EndSessionEndpoint
	e.st.JWKSURI, e.st.LastSuccess = doc.JWKSURI, now
	e.st.AuthorizationEndpoint, e.st.TokenEndpoint, e.st.EndSessionEndpoint = doc.AuthorizationEndpoint, doc.TokenEndpoint, doc.EndSessionEndpoint
	e.st.Failures, e.st.LastError, e.st.LastErrorAt = 0, "", time.Time{}
	e.st.NextAttempt = now.Add(e.refresh)
	d.up.WithLabelValues(t.Issuer).Set(1)
	if changed {
		d.cfg.Logger.Info("OpenID Connect discovery: jwks_uri", "issuer", t.Issuer, "jwks_uri", doc.JWKSURI,
			"authorization_endpoint", doc.AuthorizationEndpoint, "token_endpoint", doc.TokenEndpoint)
	}
	return changed
}

// backoff is the wait after n consecutive failures: MinBackoff doubling,
// capped by the refresh interval and MaxBackoff.
func backoff(n int, refresh time.Duration) time.Duration {
	b := MinBackoff
	for i := 1; i < n && b < MaxBackoff; i++ {
		b *= 2
	}
	return min(b, refresh, MaxBackoff)
}
