package oidc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/test/idp/hydratest"
)

// waitFor polls cond every 20ms up to bound, fails the test past it, and
// returns how long it took.
func waitFor(t *testing.T, bound time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > bound {
			t.Fatalf("%s: not within %v", what, bound)
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(start)
	t.Logf("%s after %v (bound %v)", what, took.Round(time.Millisecond), bound)
	return took
}

// TestFetchHydra reads a real ORY Hydra's discovery document: its jwks_uri
// is taken when the issuer matches exactly, and refused otherwise or when
// it is plain http without the opt-in.
func TestFetchHydra(t *testing.T) {
	h := hydratest.Start(t)
	c := NewClient(AllowsInsecure)
	ctx := context.Background()
	d, err := Fetch(ctx, c, Target{Issuer: h.Issuer, AllowInsecureHTTP: true})
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if want := h.Public + "/.well-known/jwks.json"; d.JWKSURI != want {
		t.Errorf("jwks_uri = %q, want %q", d.JWKSURI, want)
	}
	// Attacker: a configured issuer that differs from the document's in
	// one character (the trailing slash) gets nothing.
	_, err = Fetch(ctx, c, Target{Issuer: strings.TrimSuffix(h.Issuer, "/"), AllowInsecureHTTP: true})
	if err == nil || !strings.Contains(err.Error(), "does not match the configured issuer") {
		t.Errorf("issuer without its trailing slash: err = %v, want an issuer mismatch", err)
	}
	// Hydra in --dev serves plain http: without the opt-in its jwks_uri
	// is refused.
	_, err = Fetch(ctx, c, Target{Issuer: h.Issuer})
	if err == nil || !strings.Contains(err.Error(), "plain http") {
		t.Errorf("http jwks_uri without allowInsecureHTTP: err = %v", err)
	}
}

// TestDiscovererHydra runs the Discoverer against a real Hydra: the
// jwks_uri is found; while Hydra is down the error shows in Status, the
// last good jwks_uri stays and no rebuild is asked for; when it is back
// the error clears. Key rotations (a new signing key created through
// Hydra's admin API, and the new keys of a restarted in-memory Hydra) are
// published at the same jwks_uri, so they ask for no rebuild: no config
// push, Envoy fetches the new keys itself.
func TestDiscovererHydra(t *testing.T) {
	h := hydratest.Start(t)
	var changes atomic.Int32
	d := New(Config{OnChange: func() { changes.Add(1) }})
	target := Target{Issuer: h.Issuer, AllowInsecureHTTP: true}
	refresh := 200 * time.Millisecond
	d.Set(map[Target]time.Duration{target: refresh})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Discoverer.Run did not return within 10s of cancel")
		}
	})

	waitFor(t, 10*time.Second, "jwks_uri discovered", func() bool { return d.JWKSURI(target) != "" })
	uri := d.JWKSURI(target)
	if changes.Load() != 1 {
		t.Fatalf("OnChange called %d times after the first discovery, want 1", changes.Load())
	}

	// Rotation: a JWT access token signed with a key created after
	// discovery names a kid that the same jwks_uri publishes.
	cl := h.CreateClient(hydratest.ClientOptions{JWT: true})
	kid := h.RotateKey(hydratest.AccessTokenKeySet)
	if got := tokenKID(t, h.Token(cl)); got != kid {
		t.Fatalf("token after rotation signed with kid %q, want the new key %q", got, kid)
	}
	if kids := jwksKIDs(t, uri); !kids[kid] {
		t.Fatalf("new kid %q not published at the discovered jwks_uri %s (has %v)", kid, uri, kids)
	}

	// Hydra down: errors are reported and counted; the last good value
	// stays and nothing is rebuilt.
	h.Kill()
	waitFor(t, 10*time.Second, "discovery failure reported", func() bool {
		st := d.Status()
		return len(st) == 1 && st[0].Failures >= 2 && st[0].LastError != ""
	})
	st := d.Status()[0]
	if st.JWKSURI != uri {
		t.Errorf("jwks_uri while Hydra is down = %q, want the last good %q", st.JWKSURI, uri)
	}
	if d.JWKSURI(target) != uri {
		t.Errorf("JWKSURI while Hydra is down = %q", d.JWKSURI(target))
	}
	t.Logf("while down: %s", st.LastError)

	// Hydra up again, with new keys (its store is in memory): the error
	// clears, the jwks_uri is the same, still no rebuild.
	h.Restart()
	waitFor(t, 10*time.Second, "discovery recovered", func() bool {
		st := d.Status()
		return len(st) == 1 && st[0].LastError == "" && st[0].Failures == 0
	})
	if n := changes.Load(); n != 1 {
		t.Errorf("OnChange called %d times in all, want 1: a key rotation or an outage must not rebuild the configuration", n)
	}
	if kids := jwksKIDs(t, uri); kids[kid] {
		t.Errorf("restarted in-memory Hydra still publishes %q: the test did not rotate", kid)
	}

	// Removing the issuer forgets it.
	d.Set(nil)
	if d.JWKSURI(target) != "" || len(d.Status()) != 0 {
		t.Errorf("after Set(nil): JWKSURI %q, status %v", d.JWKSURI(target), d.Status())
	}
}

func tokenKID(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		t.Fatal(err)
	}
	var hdr struct {
		KID string `json:"kid"`
	}
	if err := json.Unmarshal(b, &hdr); err != nil {
		t.Fatal(err)
	}
	return hdr.KID
}

func jwksKIDs(t *testing.T, uri string) map[string]bool {
	t.Helper()
	resp, err := http.Get(uri)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var set struct {
		Keys []struct {
			KID string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatalf("JWKS %s: %v", uri, err)
	}
	out := map[string]bool{}
	for _, k := range set.Keys {
		out[k.KID] = true
	}
	return out
}
