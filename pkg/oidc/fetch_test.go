package oidc

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestFetchRefuses: every way a discovery document can be wrong or
// hostile is refused with an error saying why.
func TestFetchRefuses(t *testing.T) {
	var issuer string
	cases := []struct {
		name string
		h    http.HandlerFunc
		want string
	}{
		{"not found", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, "HTTP 404"},
		{"not JSON", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>")) }, "not a JSON object"},
		{"no jwks_uri", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"issuer":"` + issuer + `"}`))
		}, "no jwks_uri"},
		{"other issuer", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"issuer":"https://evil.example.com/","jwks_uri":"https://evil.example.com/keys"}`))
		}, `issuer "https://evil.example.com/" does not match`},
		{"jwks_uri with credentials", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"issuer":"` + issuer + `","jwks_uri":"https://u:p@idp.example.com/keys"}`))
		}, "must not carry credentials"},
		{"jwks_uri host not a DNS name", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"issuer":"` + issuer + `","jwks_uri":"https://idp_x.example.com/keys"}`))
		}, "has no valid host"},
		{"jwks_uri port 0", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"issuer":"` + issuer + `","jwks_uri":"https://idp.example.com:0/keys"}`))
		}, "bad port"},
		{"jwks_uri port out of range", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"issuer":"` + issuer + `","jwks_uri":"https://idp.example.com:70000/keys"}`))
		}, "bad port"},
		{"jwks_uri not http", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"issuer":"` + issuer + `","jwks_uri":"file:///etc/passwd"}`))
		}, "must be an https URL"},
		// Attacker: a document that would send the login's code and client
		// secret over plain http, or the browser to a file: URL.
		{"token_endpoint plain http", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"issuer":"` + issuer + `","jwks_uri":"https://idp.example.com/keys","token_endpoint":"http://idp.example.com/token"}`))
		}, `token_endpoint "http://idp.example.com/token" uses plain http`},
		{"authorization_endpoint not http", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"issuer":"` + issuer + `","jwks_uri":"https://idp.example.com/keys","authorization_endpoint":"javascript:alert(1)"}`))
		}, "authorization_endpoint \"javascript:alert(1)\" must be an https URL"},
		{"end_session_endpoint with credentials", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"issuer":"` + issuer + `","jwks_uri":"https://idp.example.com/keys","end_session_endpoint":"https://u:p@idp.example.com/logout"}`))
		}, "end_session_endpoint"},
		{"oversized document", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"issuer":"` + issuer + `","x":"` + strings.Repeat("a", MaxDocumentBytes) + `"}`))
		}, "larger than"},
		{"redirect to plain http", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://127.0.0.1:1/x", http.StatusFound)
		}, "not https"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewTLSServer(c.h)
			defer srv.Close()
			issuer = srv.URL + "/"
			cl := NewClient(AllowsInsecure)
			cl.Transport = srv.Client().Transport
			_, err := Fetch(context.Background(), cl, Target{Issuer: issuer})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want it to contain %q", err, c.want)
			}
		})
	}
}

// TestFetchTimeout: an issuer that never answers is given up on within
// FetchTimeout.
func TestFetchTimeout(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer srv.Close()
	defer close(block)
	cl := NewClient(AllowsInsecure)
	cl.Timeout = 300 * time.Millisecond // FetchTimeout, shortened for the test
	start := time.Now()
	_, err := Fetch(context.Background(), cl, Target{Issuer: srv.URL, AllowInsecureHTTP: true})
	took := time.Since(start)
	t.Logf("gave up after %v", took.Round(time.Millisecond))
	if err == nil || took > 5*time.Second {
		t.Errorf("err = %v after %v, want a timeout within 5s", err, took)
	}
}

// TestFetchDocumentURL: the trailing slash of the issuer is not doubled
// (OpenID Connect Discovery 1.0, section 4).
func TestFetchDocumentURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://idp.example.com/":       "https://idp.example.com/.well-known/openid-configuration",
		"https://idp.example.com":        "https://idp.example.com/.well-known/openid-configuration",
		"https://idp.example.com/tenant": "https://idp.example.com/tenant/.well-known/openid-configuration",
	} {
		if got := DocumentURL(in); got != want {
			t.Errorf("DocumentURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBackoff(t *testing.T) {
	for _, c := range []struct {
		n       int
		refresh time.Duration
		want    time.Duration
	}{
		{1, time.Hour, time.Second},
		{2, time.Hour, 2 * time.Second},
		{4, time.Hour, 8 * time.Second},
		{30, time.Hour, MaxBackoff},
		{5, 3 * time.Second, 3 * time.Second},
	} {
		if got := backoff(c.n, c.refresh); got != c.want {
			t.Errorf("backoff(%d, %v) = %v, want %v", c.n, c.refresh, got, c.want)
		}
	}
}
