// Package oidc reads OpenID Connect discovery documents
// (<issuer>/.well-known/openid-configuration, OpenID Connect Discovery
// 1.0) for the JWT Authentications that name an issuer and no JWKS, keeps
// each issuer's jwks_uri fresh, and reports errors. Envoy then fetches the
// keys themselves from that URI (remote_jwks), so a key rotation at the
// issuer needs no configuration push; only a changed jwks_uri does.
package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// Bounds of one discovery fetch.
const (
	// MaxDocumentBytes bounds a discovery document: real ones are a few
	// KiB; a larger answer is refused, never read into memory whole.
	MaxDocumentBytes = 256 << 10
	// FetchTimeout bounds one fetch (connect, TLS, headers and body).
	FetchTimeout = 5 * time.Second
	maxRedirects = 3
)

// Target is one issuer to discover.
type Target struct {
	Issuer string
	// AllowInsecureHTTP accepts a plain-http issuer and jwks_uri (the
	// policy's explicit opt-in).
	AllowInsecureHTTP bool
}

// Document is the part of a discovery document gatehouse uses.
type Document struct {
	Issuer  string `json:"issuer"`
	JWKSURI string `json:"jwks_uri"`
	// The endpoints of browser login (oauth2Login Authentications that
	// name an issuer), checked like jwks_uri when present.
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	EndSessionEndpoint    string `json:"end_session_endpoint"`
}

// DocumentURL is where t's discovery document is: the issuer without its
// trailing slash, then /.well-known/openid-configuration (OpenID Connect
// Discovery 1.0, section 4).
func DocumentURL(issuer string) string {
	return strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
}

// NewClient is the HTTP client discovery uses: bounded by FetchTimeout,
// no more than maxRedirects redirects, and never from https to http
// unless the target allows plain http.
func NewClient(allowInsecure func(*http.Request) bool) *http.Client {
	return &http.Client{
		Timeout: FetchTimeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects {
				return fmt.Errorf("more than %d redirects", maxRedirects)
			}
			if req.URL.Scheme != "https" && (allowInsecure == nil || !allowInsecure(via[0])) {
				return fmt.Errorf("redirect to %q: not https", req.URL.Redacted())
			}
			return nil
		},
	}
}

// insecureKey marks a request whose target allows plain http.
type insecureKey struct{}

// AllowsInsecure reports whether req was made for a target that allows
// plain http (for NewClient's redirect check).
func AllowsInsecure(req *http.Request) bool {
	v, _ := req.Context().Value(insecureKey{}).(bool)
	return v
}

// Fetch reads and checks t's discovery document: status 200, at most
// MaxDocumentBytes of JSON whose issuer is exactly t.Issuer (section 4.3:
// otherwise a document could hand out another issuer's keys) and whose
// jwks_uri is an absolute https URL (http only with the opt-in).
func Fetch(ctx context.Context, c *http.Client, t Target) (Document, error) {
	ctx = context.WithValue(ctx, insecureKey{}, t.AllowInsecureHTTP)
	u := DocumentURL(t.Issuer)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return Document{}, fmt.Errorf("discovery document %s: %w", u, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return Document{}, fmt.Errorf("discovery document: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxDocumentBytes+1))
	if err != nil {
		return Document{}, fmt.Errorf("discovery document %s: reading: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return Document{}, fmt.Errorf("discovery document %s: HTTP %d", u, resp.StatusCode)
	}
	if len(body) > MaxDocumentBytes {
		return Document{}, fmt.Errorf("discovery document %s: larger than %d bytes", u, MaxDocumentBytes)
	}
	var d Document
	if err := json.Unmarshal(body, &d); err != nil {
		return Document{}, fmt.Errorf("discovery document %s: not a JSON object: %w", u, err)
	}
	if d.Issuer != t.Issuer {
		return Document{}, fmt.Errorf("discovery document %s: issuer %q does not match the configured issuer %q exactly (OpenID Connect Discovery 1.0, section 4.3)", u, d.Issuer, t.Issuer)
	}
	if err := checkJWKSURI(d.JWKSURI, t.AllowInsecureHTTP); err != nil {
		return Document{}, fmt.Errorf("discovery document %s: %w", u, err)
	}
	for _, e := range []struct{ field, v string }{
		{"authorization_endpoint", d.AuthorizationEndpoint},
		{"token_endpoint", d.TokenEndpoint},
		{"end_session_endpoint", d.EndSessionEndpoint},
	} {
		if e.v == "" {
			continue
		}
		if err := checkURI(e.field, e.v, t.AllowInsecureHTTP); err != nil {
			return Document{}, fmt.Errorf("discovery document %s: %w", u, err)
		}
	}
	return d, nil
}

func checkJWKSURI(s string, allowHTTP bool) error {
	if s == "" {
		return errors.New("no jwks_uri")
	}
	return checkURI("jwks_uri", s, allowHTTP)
}

// checkURI holds one URL of a discovery document to what the policy asks
// of the same URL written by hand: absolute https (http only with the
// opt-in), a valid host and port, no credentials or fragment.
func checkURI(field, s string, allowHTTP bool) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Errorf("%s %q is not a URL", field, s)
	case u.Scheme == "http" && !allowHTTP:
		return fmt.Errorf("%s %q uses plain http, and the Authentication does not allow it (discovery.allowInsecureHTTP of a jwt, allowInsecureHTTP of an oauth2Login)", field, s)
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Errorf("%s %q must be an https URL", field, s)
	case u.Hostname() == "" || !policy.ValidAddress(u.Hostname()):
		return fmt.Errorf("%s %q has no valid host", field, s)
	case u.User != nil:
		return fmt.Errorf("%s %q must not carry credentials", field, s)
	case u.Fragment != "":
		return fmt.Errorf("%s %q must not have a #fragment", field, s)
	}
	if p := u.Port(); p != "" {
		if _, err := net.LookupPort("tcp", p); err != nil || p == "0" {
			return fmt.Errorf("%s %q has a bad port", field, s)
		}
	}
	return nil
}
