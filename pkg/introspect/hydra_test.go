package introspect

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/test/idp/hydratest"
)

// newHydra starts a real Hydra and an Introspector against its RFC 7662
// endpoint (plain HTTP on loopback, allowed explicitly).
func newHydra(t *testing.T, mod func(*Config)) (*hydratest.Server, *Introspector) {
	t.Helper()
	h := hydratest.Start(t)
	rs := h.CreateClient(hydratest.ClientOptions{}) // the resource server's own credentials
	cfg := Config{Endpoint: h.IntrospectionURL(), AllowHTTP: true, ClientID: rs.ID, ClientSecret: rs.Secret}
	if mod != nil {
		mod(&cfg)
	}
	in, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h, in
}

// A client-credentials token from Hydra is active, carries the client as
// sub and client_id and exactly the scopes granted; the second check is
// answered from the cache.
func TestHydraClientCredentialsAccepted(t *testing.T) {
	h, in := newHydra(t, nil)
	c := h.CreateClient(hydratest.ClientOptions{Scopes: []string{"orders:read", "orders:write"}})
	tok := h.Token(c, "orders:read")
	r, err := in.Introspect(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Active || r.Cached {
		t.Fatalf("got %+v, want active and not cached", r)
	}
	if r.Token.Subject != c.ID || r.Token.ClientID != c.ID {
		t.Errorf("sub %q client_id %q, want %q", r.Token.Subject, r.Token.ClientID, c.ID)
	}
	if !r.Token.HasScopes([]string{"orders:read"}) || r.Token.HasScopes([]string{"orders:write"}) {
		t.Errorf("scopes %v, want exactly [orders:read]", r.Token.Scopes)
	}
	if d := time.Until(r.Token.Expires); d <= 0 || d > 2*time.Hour {
		t.Errorf("exp in %v, want within Hydra's default lifespan", d)
	}
	r2, err := in.Introspect(context.Background(), tok)
	if err != nil || !r2.Active || !r2.Cached {
		t.Fatalf("second check: %+v %v, want active from the cache", r2, err)
	}
}

// Tokens Hydra never issued, revoked tokens and expired tokens are refused;
// an unknown token is cached negatively.
func TestHydraRevokedExpiredUnknownRefused(t *testing.T) {
	h, in := newHydra(t, nil)
	c := h.CreateClient(hydratest.ClientOptions{Scopes: []string{"a"}})

	revoked := h.Token(c, "a")
	h.Revoke(c, revoked)
	if r, err := in.Introspect(context.Background(), revoked); err != nil || r.Active {
		t.Errorf("revoked token: %+v %v, want inactive", r, err)
	}

	for _, forged := range []string{"ory_at_forged.forged", revoked + "x", strings.ToUpper(h.Token(c, "a"))} {
		r, err := in.Introspect(context.Background(), forged)
		if err != nil || r.Active {
			t.Errorf("token %.20q...: %+v %v, want inactive", forged, r, err)
		}
		if r, _ := in.Introspect(context.Background(), forged); !r.Cached || r.Active {
			t.Errorf("token %.20q... again: %+v, want a cached refusal", forged, r)
		}
	}

	short := h.CreateClient(hydratest.ClientOptions{Scopes: []string{"a"}, Lifespan: 2 * time.Second})
	tok := h.Token(short, "a")
	r, err := in.Introspect(context.Background(), tok)
	if err != nil || !r.Active {
		t.Fatalf("fresh short-lived token: %+v %v", r, err)
	}
	// The cache entry ends at exp, not at the 60s TTL.
	deadline := time.Now().Add(10 * time.Second)
	start := time.Now()
	for {
		r, err = in.Introspect(context.Background(), tok)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Active {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("2s token still accepted after %v", time.Since(start))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("2s token refused %v after its first check (bound 10s)", time.Since(start).Round(time.Millisecond))
}

// A revocation after a positive answer takes effect no later than the
// cache TTL.
func TestHydraRevocationWithinTTL(t *testing.T) {
	h, in := newHydra(t, func(c *Config) { c.CacheTTL = time.Second })
	c := h.CreateClient(hydratest.ClientOptions{Scopes: []string{"a"}})
	tok := h.Token(c, "a")
	if r, err := in.Introspect(context.Background(), tok); err != nil || !r.Active {
		t.Fatalf("%+v %v", r, err)
	}
	h.Revoke(c, tok)
	start := time.Now()
	for {
		r, err := in.Introspect(context.Background(), tok)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Active {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("revoked token still accepted after 10s with a 1s TTL")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("revocation effective after %v (TTL 1s, bound 10s)", time.Since(start).Round(time.Millisecond))
}

// The endpoint authenticates gatehouse: wrong client credentials are an
// outage (fail closed), never an acceptance.
func TestHydraOutageFailsClosedAndBreaks(t *testing.T) {
	h, in := newHydra(t, func(c *Config) {
		c.BreakerFailures, c.BreakerCooldown, c.Timeout = 3, 500*time.Millisecond, time.Second
	})
	c := h.CreateClient(hydratest.ClientOptions{Scopes: []string{"a"}})
	cached, uncached := h.Token(c, "a"), h.Token(c, "a")
	if r, err := in.Introspect(context.Background(), cached); err != nil || !r.Active {
		t.Fatalf("%+v %v", r, err)
	}
	h.Kill()
	// A token already checked is still answered from the cache.
	if r, err := in.Introspect(context.Background(), cached); err != nil || !r.Active || !r.Cached {
		t.Errorf("cached token during the outage: %+v %v", r, err)
	}
	for i := range 3 {
		r, err := in.Introspect(context.Background(), uncached)
		if !errors.Is(err, ErrUnavailable) || r.Active {
			t.Fatalf("call %d during the outage: %+v %v, want ErrUnavailable", i, r, err)
		}
	}
	_, err := in.Introspect(context.Background(), uncached)
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "circuit breaker open") {
		t.Fatalf("after 3 failures: %v, want the breaker open", err)
	}
	h.Restart() // an empty store: the old tokens are unknown now
	time.Sleep(600 * time.Millisecond)
	r, err := in.Introspect(context.Background(), uncached)
	if err != nil || r.Active {
		t.Fatalf("after the cooldown: %+v %v, want an answer (inactive: Hydra forgot the token)", r, err)
	}
}
