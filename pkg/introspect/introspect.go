// Package introspect checks opaque OAuth2 access tokens with an
// authorization server's RFC 7662 token introspection endpoint, for
// gatehouse's ext_authz service.
//
// Every failure is closed: a token is accepted only when the server said,
// over an authenticated request, that it is active and not expired. Answers
// are cached (keyed by a hash of the token, never the token itself):
// active tokens until the earlier of their exp and the TTL, inactive ones
// for the negative TTL. Requests time out, and a circuit breaker stops
// calling a server that keeps failing; outages return ErrUnavailable so the
// caller can apply the route's failure mode.
package introspect

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// ErrUnavailable wraps every error that says nothing about the token: the
// server could not be reached, timed out, answered with an error status or
// a malformed body, or the circuit breaker is open.
var ErrUnavailable = errors.New("introspection unavailable")

// Config is one introspection endpoint and how it is called.
type Config struct {
	Endpoint     string // https URL of the RFC 7662 endpoint
	ClientID     string // the resource server's credentials (HTTP Basic, RFC 7662 2.1)
	ClientSecret string
	// AllowHTTP permits a plain-HTTP endpoint (tokens and the client secret
	// cross the network in clear): only for loopback test servers.
	AllowHTTP bool
	// CAPEM, if set, holds the PEM certificates the endpoint's TLS
	// certificate must chain to, instead of the system roots (a private
	// identity provider's CA). A string, so that configs compare.
	CAPEM string

	Timeout          time.Duration // per request; default 2s
	CacheTTL         time.Duration // upper bound for active tokens; default 60s
	NegativeTTL      time.Duration // inactive tokens; default 10s
	MaxEntries       int           // cache bound; default 10000
	BreakerFailures  int           // consecutive failures that open the breaker; default 5
	BreakerCooldown  time.Duration // how long it stays open; default 10s
	MaxResponseBytes int64         // default 64 KiB

	HTTPClient *http.Client     // default: a client with Timeout
	Now        func() time.Time // default time.Now (tests)
}

// Token is what the server said about an active token.
type Token struct {
	Subject  string
	ClientID string
	Scopes   []string
	Expires  time.Time // zero when the server gave no exp
	Claims   map[string]any
}

// Result is the answer for one token: Active false means refuse it.
type Result struct {
	Active bool
	Token  Token
	Cached bool
}

// Introspector calls one endpoint, with a cache and a circuit breaker.
type Introspector struct {
	cfg    Config
	client *http.Client

	mu       sync.Mutex
	cache    map[[32]byte]entry
	failures int
	openTill time.Time
	trial    bool // half-open: one request is testing the server
}

type entry struct {
	res   Result
	until time.Time
}

// ReadSecret reads a client secret from a file (trailing newline removed):
// secrets never sit in the policy YAML.
func ReadSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("client secret: %w", err)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", fmt.Errorf("client secret: %s is empty", path)
	}
	return s, nil
}

// New checks cfg and fills in the defaults.
func New(cfg Config) (*Introspector, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("endpoint %q: not an absolute URL", cfg.Endpoint)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && cfg.AllowHTTP:
	case u.Scheme == "http":
		return nil, fmt.Errorf("endpoint %q: plain HTTP would send tokens and the client secret in clear (use https, or allow HTTP explicitly)", cfg.Endpoint)
	default:
		return nil, fmt.Errorf("endpoint %q: scheme must be https", cfg.Endpoint)
	}
	if u.User != nil {
		return nil, fmt.Errorf("endpoint %q: credentials in the URL (use the client secret file)", cfg.Endpoint)
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("client id and client secret are required (RFC 7662 2.1: the endpoint must authenticate its callers)")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Timeout, 2*time.Second)
	def(&cfg.CacheTTL, 60*time.Second)
	def(&cfg.NegativeTTL, 10*time.Second)
	def(&cfg.BreakerCooldown, 10*time.Second)
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 10000
	}
	if cfg.BreakerFailures <= 0 {
		cfg.BreakerFailures = 5
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = 64 << 10
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	client := cfg.HTTPClient
	if client == nil {
		// No redirects: a redirect could send the token elsewhere.
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		if cfg.CAPEM != "" {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM([]byte(cfg.CAPEM)) {
				return nil, fmt.Errorf("endpoint %q: the CA file holds no PEM certificate", cfg.Endpoint)
			}
			// Only these CAs: a certificate from any public CA is refused.
			t := http.DefaultTransport.(*http.Transport).Clone()
			t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
			client.Transport = t
		}
	}
	return &Introspector{cfg: cfg, client: client, cache: map[[32]byte]entry{}}, nil
}

// Introspect says whether token is active. An error (always wrapping
// ErrUnavailable) means the answer is unknown: the caller must not accept
// the token.
func (in *Introspector) Introspect(ctx context.Context, token string) (Result, error) {
	if token == "" {
		return Result{}, nil
	}
	key := sha256.Sum256([]byte(token))
	now := in.cfg.Now()
	in.mu.Lock()
	if e, ok := in.cache[key]; ok {
		if now.Before(e.until) {
			in.mu.Unlock()
			r := e.res
			r.Cached = true
			return r, nil
		}
		delete(in.cache, key)
	}
	if err := in.admitLocked(now); err != nil {
		in.mu.Unlock()
		return Result{}, err
	}
	in.mu.Unlock()

	res, err := in.call(ctx, token)
	now = in.cfg.Now()
	in.mu.Lock()
	defer in.mu.Unlock()
	in.trial = false
	if err != nil {
		in.failures++
		if in.failures >= in.cfg.BreakerFailures {
			in.openTill = now.Add(in.cfg.BreakerCooldown)
		}
		return Result{}, err
	}
	in.failures, in.openTill = 0, time.Time{}
	res = in.judge(res, now)
	until := now.Add(in.cfg.NegativeTTL)
	if res.Active {
		until = now.Add(in.cfg.CacheTTL)
		if !res.Token.Expires.IsZero() && res.Token.Expires.Before(until) {
			until = res.Token.Expires
		}
	}
	in.storeLocked(key, entry{res: res, until: until}, now)
	return res, nil
}

// admitLocked is the circuit breaker: closed lets every call through, open
// refuses them until the cooldown ends, then one trial call is let through
// (half-open) and its outcome closes or reopens the breaker.
func (in *Introspector) admitLocked(now time.Time) error {
	if in.openTill.IsZero() {
		return nil
	}
	if now.Before(in.openTill) || in.trial {
		return fmt.Errorf("%w: circuit breaker open after %d consecutive failures", ErrUnavailable, in.failures)
	}
	in.trial = true
	return nil
}

// judge refuses what an active answer should not carry: an exp in the past
// or an nbf in the future (RFC 7662 2.2; a server's clock or cache may lag).
func (in *Introspector) judge(r Result, now time.Time) Result {
	if !r.Active {
		return Result{}
	}
	if !r.Token.Expires.IsZero() && !now.Before(r.Token.Expires) {
		return Result{}
	}
	if nbf, ok := r.Token.Claims["nbf"].(float64); ok && now.Before(time.Unix(int64(nbf), 0)) {
		return Result{}
	}
	return r
}

func (in *Introspector) storeLocked(key [32]byte, e entry, now time.Time) {
	if len(in.cache) >= in.cfg.MaxEntries {
		for k, old := range in.cache {
			if !now.Before(old.until) {
				delete(in.cache, k)
			}
		}
	}
	// Still full: drop arbitrary entries (map order). Dropping only costs a
	// new introspection call, never a wrong answer.
	for k := range in.cache {
		if len(in.cache) < in.cfg.MaxEntries {
			break
		}
		delete(in.cache, k)
	}
	in.cache[key] = e
}

func (in *Introspector) call(ctx context.Context, token string) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, in.cfg.Timeout)
	defer cancel()
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.cfg.Endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return Result{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(url.QueryEscape(in.cfg.ClientID), url.QueryEscape(in.cfg.ClientSecret)) // RFC 6749 2.3.1
	resp, err := in.client.Do(req)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return Result{}, fmt.Errorf("%w: %s: timed out after %v", ErrUnavailable, in.cfg.Endpoint, in.cfg.Timeout)
		}
		return Result{}, fmt.Errorf("%w: %s: %v", ErrUnavailable, in.cfg.Endpoint, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, in.cfg.MaxResponseBytes+1))
	if err != nil {
		return Result{}, fmt.Errorf("%w: %s: reading the answer: %v", ErrUnavailable, in.cfg.Endpoint, err)
	}
	if resp.StatusCode != http.StatusOK {
		return Result{}, fmt.Errorf("%w: %s: %s", ErrUnavailable, in.cfg.Endpoint, resp.Status)
	}
	if int64(len(body)) > in.cfg.MaxResponseBytes {
		return Result{}, fmt.Errorf("%w: %s: answer larger than %d bytes", ErrUnavailable, in.cfg.Endpoint, in.cfg.MaxResponseBytes)
	}
	res, err := Parse(body)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %s: %v", ErrUnavailable, in.cfg.Endpoint, err)
	}
	return res, nil
}
