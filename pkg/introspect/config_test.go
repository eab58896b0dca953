package introspect

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestNewRefusesUnsafeConfig(t *testing.T) {
	ok := Config{Endpoint: "https://idp.example/introspect", ClientID: "gw", ClientSecret: "s"}
	for _, tc := range []struct {
		mod func(*Config)
		err string
	}{
		{func(c *Config) { c.Endpoint = "http://idp.example/introspect" }, "plain HTTP"},
		{func(c *Config) { c.Endpoint = "ftp://idp.example/x" }, "scheme must be https"},
		{func(c *Config) { c.Endpoint = "/introspect" }, "not an absolute URL"},
		{func(c *Config) { c.Endpoint = "https://gw:s@idp.example/x" }, "credentials in the URL"},
		{func(c *Config) { c.ClientSecret = "" }, "client secret are required"},
		{func(c *Config) { c.ClientID = "" }, "client secret are required"},
	} {
		c := ok
		tc.mod(&c)
		if _, err := New(c); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("New(%+v) = %v, want %q", c, err, tc.err)
		}
	}
	if _, err := New(ok); err != nil {
		t.Errorf("New(%+v) = %v", ok, err)
	}
	c := ok
	c.Endpoint, c.AllowHTTP = "http://127.0.0.1:1/x", true
	if _, err := New(c); err != nil {
		t.Errorf("plain HTTP explicitly allowed: %v", err)
	}
}

func TestReadSecret(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "secret")
	os.WriteFile(p, []byte("s3cret\n"), 0o600)
	if s, err := ReadSecret(p); err != nil || s != "s3cret" {
		t.Errorf("ReadSecret = %q, %v", s, err)
	}
	os.WriteFile(p, []byte("\n"), 0o600)
	if _, err := ReadSecret(p); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("empty secret: %v", err)
	}
	if _, err := ReadSecret(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing secret file accepted")
	}
}

// These servers stand for failure modes Hydra cannot be made to show (a
// hang, an error status, a redirect); the token answers themselves are
// tested against real Hydra (hydra_test.go).
func failing(t *testing.T, h http.HandlerFunc, mod func(*Config)) (*Introspector, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	cfg := Config{Endpoint: srv.URL, AllowHTTP: true, ClientID: "gw", ClientSecret: "s"}
	if mod != nil {
		mod(&cfg)
	}
	in, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return in, &calls
}

func TestTimeoutFailsClosed(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	in, _ := failing(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}, func(c *Config) { c.Timeout = 200 * time.Millisecond })
	start := time.Now()
	r, err := in.Introspect(context.Background(), "tok")
	took := time.Since(start)
	if !errors.Is(err, ErrUnavailable) || r.Active || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("%+v %v, want a timeout", r, err)
	}
	if took > 5*time.Second {
		t.Fatalf("took %v with a 200ms timeout (bound 5s)", took)
	}
	t.Logf("timed out after %v (timeout 200ms)", took.Round(time.Millisecond))
}

func TestErrorStatusRedirectAndHugeAnswerFailClosed(t *testing.T) {
	for name, h := range map[string]http.HandlerFunc{
		"500": func(w http.ResponseWriter, r *http.Request) { http.Error(w, `{"active":true}`, 500) },
		"401": func(w http.ResponseWriter, r *http.Request) { http.Error(w, `{"active":true}`, 401) },
		"redirect": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://elsewhere.example/steal", http.StatusTemporaryRedirect)
		},
		"huge": func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"active":true,"sub":"` + strings.Repeat("a", 70<<10) + `"}`))
		},
	} {
		in, _ := failing(t, h, nil)
		if r, err := in.Introspect(context.Background(), "tok"); !errors.Is(err, ErrUnavailable) || r.Active {
			t.Errorf("%s: %+v %v, want ErrUnavailable", name, r, err)
		}
	}
}

// The resource server's credentials go in HTTP Basic, the token in the
// form body, never in the URL.
func TestRequestShape(t *testing.T) {
	in, _ := failing(t, func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != "gw" || p != "s" || r.URL.RawQuery != "" || r.FormValue("token") != "tok" || r.Method != http.MethodPost {
			http.Error(w, "bad request shape", 400)
			return
		}
		w.Write([]byte(`{"active":true,"sub":"alice","exp":4102444800}`))
	}, nil)
	if r, err := in.Introspect(context.Background(), "tok"); err != nil || !r.Active || r.Token.Subject != "alice" {
		t.Fatalf("%+v %v", r, err)
	}
}

// An exp in the past or an nbf in the future refuses an "active" answer;
// an empty token never reaches the server.
func TestActiveButExpiredRefused(t *testing.T) {
	in, calls := failing(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.FormValue("token") {
		case "expired":
			w.Write([]byte(`{"active":true,"sub":"a","exp":1000}`))
		case "early":
			w.Write([]byte(`{"active":true,"sub":"a","nbf":4102444800}`))
		}
	}, nil)
	for _, tok := range []string{"expired", "early", ""} {
		if r, err := in.Introspect(context.Background(), tok); err != nil || r.Active {
			t.Errorf("%q: %+v %v, want inactive", tok, r, err)
		}
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("%d calls, want 2 (none for the empty token)", n)
	}
}

// While the breaker is half-open exactly one request tests the server;
// a failed trial reopens it.
func TestBreakerHalfOpenLetsOneTrialThrough(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	now := time.Unix(1_700_000_000, 0)
	var clock atomic.Int64
	clock.Store(now.UnixNano())
	in, calls := failing(t, func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() {
			http.Error(w, "down", 503)
			return
		}
		w.Write([]byte(`{"active":true,"sub":"a"}`))
	}, func(c *Config) {
		c.BreakerFailures, c.BreakerCooldown = 2, 10*time.Second
		c.Now = func() time.Time { return time.Unix(0, clock.Load()) }
	})
	ctx := context.Background()
	in.Introspect(ctx, "t1")
	in.Introspect(ctx, "t2")
	if _, err := in.Introspect(ctx, "t3"); err == nil || !strings.Contains(err.Error(), "circuit breaker open") {
		t.Fatalf("after 2 failures: %v", err)
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("%d calls reached the server, want 2 (the breaker holds the third)", n)
	}
	clock.Add(int64(11 * time.Second))
	if _, err := in.Introspect(ctx, "t4"); !errors.Is(err, ErrUnavailable) || calls.Load() != 3 {
		t.Fatalf("trial: %v after %d calls", err, calls.Load())
	}
	if _, err := in.Introspect(ctx, "t5"); err == nil || !strings.Contains(err.Error(), "circuit breaker open") || calls.Load() != 3 {
		t.Fatalf("a failed trial must reopen the breaker: %v after %d calls", err, calls.Load())
	}
	clock.Add(int64(11 * time.Second))
	fail.Store(false)
	if r, err := in.Introspect(ctx, "t6"); err != nil || !r.Active {
		t.Fatalf("successful trial: %+v %v", r, err)
	}
	if r, err := in.Introspect(ctx, "t7"); err != nil || !r.Active || calls.Load() != 5 {
		t.Fatalf("closed again: %+v %v after %d calls", r, err, calls.Load())
	}
}

// The cache never holds more than MaxEntries, and a full cache still
// answers correctly.
func TestCacheBounded(t *testing.T) {
	in, _ := failing(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"active":` + map[bool]string{true: "true", false: "false"}[strings.HasPrefix(r.FormValue("token"), "good")] + `}`))
	}, func(c *Config) { c.MaxEntries = 8 })
	for i := range 100 {
		tok := "bad" + string(rune('a'+i%26)) + strings.Repeat("x", i)
		if r, err := in.Introspect(context.Background(), tok); err != nil || r.Active {
			t.Fatalf("%+v %v", r, err)
		}
	}
	if r, err := in.Introspect(context.Background(), "good"); err != nil || !r.Active {
		t.Fatalf("%+v %v", r, err)
	}
	in.mu.Lock()
	n := len(in.cache)
	in.mu.Unlock()
	if n > 8 {
		t.Errorf("cache holds %d entries, bound 8", n)
	}
}
