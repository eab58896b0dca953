package authz

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/introspect"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
	"github.com/gatehouse-dev/gatehouse/test/idp/hydratest"
	"github.com/gatehouse-dev/gatehouse/test/testutil/grpctest"
)

// hydraAuthz is the ext_authz service served over real gRPC on loopback,
// with an oauth2Introspection Authentication "opaque" against a real Hydra
// and Consumer "acme" for one Hydra client.
type hydraAuthz struct {
	h      *hydratest.Server
	client authv3.AuthorizationClient
	logs   *decisions
	acme   hydratest.Client // Consumer acme; may request orders:read and orders:write
	other  hydratest.Client // no Consumer
}

// scopesRego allows what the introspected token allows: Rego sees the
// consumer, the client id and the scopes in input.gatehouse.
const scopesRego = `package envoy.authz

default allow := false

allow if {
	input.gatehouse.consumer == "acme"
	input.gatehouse.authenticated_by == "opaque"
	input.gatehouse.client_id == input.gatehouse.subject
	"orders:write" in input.gatehouse.scopes
}
`

func startHydraAuthz(t *testing.T, mod func(*IntrospectAuth)) *hydraAuthz {
	t.Helper()
	h := hydratest.Start(t)
	rs := h.CreateClient(hydratest.ClientOptions{}) // gatehouse's own credentials
	x := &hydraAuthz{h: h,
		acme:  h.CreateClient(hydratest.ClientOptions{Scopes: []string{"orders:read", "orders:write"}}),
		other: h.CreateClient(hydratest.ClientOptions{Scopes: []string{"orders:read"}}),
	}
	ia := IntrospectAuth{Issuer: h.Issuer, Introspect: introspect.Config{
		Endpoint: h.IntrospectionURL(), AllowHTTP: true, ClientID: rs.ID, ClientSecret: rs.Secret,
		Timeout: 2 * time.Second, BreakerFailures: 3, BreakerCooldown: time.Minute,
	}}
	if mod != nil {
		mod(&ia)
	}
	cfg := &Config{
		APIKeyAuth:     map[string]APIKeyAuth{"partner-keys": {Header: "x-api-key"}},
		IntrospectAuth: map[string]IntrospectAuth{"opaque": ia},
		Consumers: map[string]Consumer{
			"acme": {
				JWTSubjects: []JWTSubject{{Issuer: h.Issuer, Subject: x.acme.ID}},
				APIKeys:     []APIKey{{ID: "k", SHA256: KeyDigest(testKey)}},
				Groups:      []string{"partners"},
			},
		},
		Policies: map[string]Policy{
			"partners-only": {Allow: &Allow{Groups: []string{"partners"}}},
			"scopes-rego":   {Modules: map[string]string{"scopes.rego": scopesRego}},
		},
	}
	s, logs := newTestService(t, cfg)
	x.logs = logs
	conn := grpctest.Serve(t, s)
	x.client = authv3.NewAuthorizationClient(conn)
	return x
}

// check sends r over gRPC as Envoy would, bounded by a generous deadline.
func (x *hydraAuthz) check(t *testing.T, r req) outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := x.client.Check(ctx, r.build(t))
	if err != nil {
		t.Fatalf("Check over gRPC: %v", err)
	}
	return summarize(t, resp)
}

// extReq is a request for a route with the given Authentications,
// Authorization and require block (context extensions as the translator
// writes them).
func extReq(authn, authz, scopes, claims string) map[string]string {
	e := ext("r", authn, authz)
	if scopes != "" {
		e[wire.CtxRequireScopes] = scopes
	}
	if claims != "" {
		e[wire.CtxRequireClaims] = claims
	}
	return e
}

func bearerReq(tok string, e map[string]string) req {
	return req{headers: map[string]string{"authorization": "Bearer " + tok}, ext: e}
}

// TestIntrospectionHydra: client-credentials tokens of a real Hydra,
// checked over real gRPC: with and without the required scopes, revoked,
// expired, forged; consumers, claims and Rego input.
func TestIntrospectionHydra(t *testing.T) {
	x := startHydraAuthz(t, nil)
	read := x.h.Token(x.acme, "orders:read")
	write := x.h.Token(x.acme, "orders:read", "orders:write")
	stranger := x.h.Token(x.other, "orders:read")
	revoked := x.h.Token(x.acme, "orders:read")
	x.h.Revoke(x.acme, revoked)
	claimOK := `{"client_id":"` + x.acme.ID + `"}`

	tests := []struct {
		name         string
		r            req
		wantStatus   int
		wantConsumer string
		wantAuthn    string // WWW-Authenticate, exact
	}{
		{"active token, consumer", bearerReq(read, extReq("opaque", "", "", "")), 200, "acme", ""},
		{"active token, scope held", bearerReq(read, extReq("opaque", "", "orders:read", "")), 200, "acme", ""},
		{"token without the scope", bearerReq(read, extReq("opaque", "", "orders:read orders:write", "")), 403, "acme",
			`Bearer realm="public", error="insufficient_scope", scope="orders:read orders:write"`},
		{"scope check is case-sensitive", bearerReq(read, extReq("opaque", "", "Orders:Read", "")), 403, "acme",
			`Bearer realm="public", error="insufficient_scope", scope="Orders:Read"`},
		{"claim holds", bearerReq(read, extReq("opaque", "", "", claimOK)), 200, "acme", ""},
		{"claim of another client", bearerReq(stranger, extReq("opaque", "", "", claimOK)), 403, "anonymous",
			`Bearer realm="public", error="insufficient_scope"`},
		{"unknown subject is anonymous", bearerReq(stranger, extReq("opaque", "", "orders:read", "")), 200, "anonymous", ""},
		{"unknown subject not in group", bearerReq(stranger, extReq("opaque", "partners-only", "", "")), 403, "anonymous", ""},
		{"consumer in group", bearerReq(read, extReq("opaque", "partners-only", "", "")), 200, "acme", ""},
		{"rego sees scopes: without write", bearerReq(read, extReq("opaque", "scopes-rego", "", "")), 403, "acme", ""},
		{"rego sees scopes: with write", bearerReq(write, extReq("opaque", "scopes-rego", "", "")), 200, "acme", ""},
		{"revoked token", bearerReq(revoked, extReq("opaque", "", "", "")), 401, "anonymous", `Bearer realm="public", error="invalid_token"`},
		{"forged token", bearerReq("ory_at_forged.forged", extReq("opaque", "", "", "")), 401, "anonymous", `Bearer realm="public", error="invalid_token"`},
		{"token one byte off", bearerReq(oneByteOff(t, read), extReq("opaque", "", "", "")), 401, "anonymous", `Bearer realm="public", error="invalid_token"`},
		{"no token", req{ext: extReq("opaque", "", "", "")}, 401, "anonymous", `Bearer realm="public"`},
		{"api key on a require route", req{headers: map[string]string{"x-api-key": testKey}, ext: extReq("opaque,partner-keys", "", "orders:read", "")}, 403, "acme",
			`Bearer realm="public", error="insufficient_scope", scope="orders:read"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := x.check(t, tc.r)
			d := x.logs.last(t)
			if o.status != tc.wantStatus || d.Consumer != tc.wantConsumer {
				t.Fatalf("got %v consumer %q (reasons %q), want %d %q", o, d.Consumer, d.Reasons, tc.wantStatus, tc.wantConsumer)
			}
			if got := o.headers["www-authenticate"]; o.status != 200 && got != tc.wantAuthn {
				t.Errorf("WWW-Authenticate %q, want %q", got, tc.wantAuthn)
			}
			if o.status == 200 && o.headers[wire.ConsumerHeader] != tc.wantConsumer {
				t.Errorf("consumer header %q, want %q", o.headers[wire.ConsumerHeader], tc.wantConsumer)
			}
		})
	}
	assertNoTokens(t, x.logs, read, write, stranger, revoked)
}

// oneByteOff changes one character of a token's signature to another.
// Not the last character: base64 without padding leaves low bits of the
// last one unused and Go's decoder (Hydra's) ignores them, so "…Q" and
// "…R" can carry the same signature; and never to the character it was.
func oneByteOff(t *testing.T, tok string) string {
	t.Helper()
	dot := strings.LastIndexByte(tok, '.')
	if dot < 0 || dot+2 >= len(tok) {
		t.Fatalf("token %d bytes has no signature part", len(tok))
	}
	b := []byte(tok)
	i := dot + 1 + (len(tok)-dot-1)/2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// A token that expires is refused from its exp on, whatever the cache TTL.
func TestIntrospectionHydraExpired(t *testing.T) {
	x := startHydraAuthz(t, nil)
	short := x.h.CreateClient(hydratest.ClientOptions{Scopes: []string{"a"}, Lifespan: 2 * time.Second})
	tok := x.h.Token(short, "a")
	r := bearerReq(tok, extReq("opaque", "", "", ""))
	if o := x.check(t, r); o.status != 200 {
		t.Fatalf("fresh token: %v", o)
	}
	start := time.Now()
	for {
		o := x.check(t, r)
		if o.status == 401 {
			if got := o.headers["www-authenticate"]; got != `Bearer realm="public", error="invalid_token"` {
				t.Errorf("expired: WWW-Authenticate %q", got)
			}
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("2s token still accepted after %v", time.Since(start))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("2s token refused %v after its first check (bound 10s)", time.Since(start).Round(time.Millisecond))
}

// Hydra down: a token not in the cache is refused with 503 (fail closed),
// and the breaker then answers without waiting.
func TestIntrospectionHydraDownFailsClosed(t *testing.T) {
	x := startHydraAuthz(t, nil)
	cached, uncached := x.h.Token(x.acme, "orders:read"), x.h.Token(x.acme, "orders:read")
	if o := x.check(t, bearerReq(cached, extReq("opaque", "", "", ""))); o.status != 200 {
		t.Fatalf("before the outage: %v", o)
	}
	x.h.Kill()
	for i := range 4 {
		start := time.Now()
		o := x.check(t, bearerReq(uncached, extReq("opaque", "", "", "")))
		took := time.Since(start)
		d := x.logs.last(t)
		if o.status != 503 || d.Allowed || !strings.Contains(strings.Join(d.Reasons, "; "), "fails closed") {
			t.Fatalf("call %d during the outage: %v reasons %q, want 503 fail closed", i, o, d.Reasons)
		}
		if took > 5*time.Second {
			t.Errorf("call %d took %v, want within the 2s timeout (bound 5s)", i, took)
		}
		t.Logf("outage call %d: 503 in %v", i, took.Round(time.Millisecond))
	}
	if d := x.logs.last(t); !strings.Contains(strings.Join(d.Reasons, "; "), "circuit breaker open") {
		t.Errorf("4th call: reasons %q, want the breaker open", d.Reasons)
	}
	// What was checked before the outage is still answered from the cache.
	if o := x.check(t, bearerReq(cached, extReq("opaque", "", "", ""))); o.status != 200 {
		t.Errorf("cached token during the outage: %v", o)
	}
	assertNoTokens(t, x.logs, cached, uncached)
}

// An error answer from the endpoint (here a 404) is an outage: 503, never
// an acceptance.
func TestIntrospectionHydraErrorAnswerFailsClosed(t *testing.T) {
	x := startHydraAuthz(t, func(a *IntrospectAuth) {
		a.Introspect.Endpoint = x404(a.Introspect.Endpoint)
	})
	tok := x.h.Token(x.acme, "orders:read")
	if o := x.check(t, bearerReq(tok, extReq("opaque", "", "", ""))); o.status != 503 {
		t.Fatalf("error answer from the endpoint: %v, want 503", o)
	}
}

func x404(endpoint string) string {
	return strings.TrimSuffix(endpoint, "/introspect") + "/no-such-endpoint"
}

// TestIntrospectionAttacks: ways around the token check.
func TestIntrospectionAttacks(t *testing.T) {
	x := startHydraAuthz(t, nil)
	tok := x.h.Token(x.acme, "orders:read")
	e := extReq("opaque", "", "orders:read", "")
	huge := strings.Repeat("A", MaxBearerTokenBytes+1)
	tests := []struct {
		name       string
		r          req
		wantStatus int
		wantAuthn  string
	}{
		// RFC 6750 5.3: never from the URL. The token is valid, and still
		// not looked at: the request has no credential.
		{"token in query", req{path: "/orders?access_token=" + tok, ext: e}, 401, `Bearer realm="public"`},
		// Envoy joins repeated headers with a comma.
		{"two authorization headers", req{headers: map[string]string{"authorization": "Bearer " + tok + ",Bearer ory_at_x"}, ext: e}, 401,
			`Bearer realm="public", error="invalid_request"`},
		{"valid then forged, comma", req{headers: map[string]string{"authorization": "Bearer ory_at_x, Bearer " + tok}, ext: e}, 401,
			`Bearer realm="public", error="invalid_request"`},
		// RFC 7235 2.1: the scheme is case-insensitive; the token still decides.
		{"lowercase bearer, valid token", req{headers: map[string]string{"authorization": "bearer " + tok}, ext: e}, 200, ""},
		{"lowercase bearer, forged token", req{headers: map[string]string{"authorization": "bearer ory_at_forged"}, ext: e}, 401,
			`Bearer realm="public", error="invalid_token"`},
		{"huge token", req{headers: map[string]string{"authorization": "Bearer " + huge}, ext: e}, 401,
			`Bearer realm="public", error="invalid_request"`},
		{"empty bearer", req{headers: map[string]string{"authorization": "Bearer "}, ext: e}, 401, `Bearer realm="public", error="invalid_request"`},
		{"token with a space", req{headers: map[string]string{"authorization": "Bearer " + tok + " x"}, ext: e}, 401,
			`Bearer realm="public", error="invalid_request"`},
		{"basic instead of bearer", req{headers: map[string]string{"authorization": "Basic " + tok}, ext: e}, 401, `Bearer realm="public"`},
		{"spoofed consumer header", req{headers: map[string]string{"authorization": "Bearer ory_at_forged", wire.ConsumerHeader: "acme"}, ext: e}, 401,
			`Bearer realm="public", error="invalid_token"`},
		// A JWT payload in metadata (say, from another filter) does not
		// stand in for an introspected token on this route.
		{"jwt metadata on an introspection route", req{jwt: map[string]any{"opaque": map[string]any{"sub": x.acme.ID, "scope": "orders:read"}}, ext: e}, 401, `Bearer realm="public"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := x.check(t, tc.r)
			if o.status != tc.wantStatus {
				t.Fatalf("got %v (reasons %q), want %d", o, x.logs.last(t).Reasons, tc.wantStatus)
			}
			if got := o.headers["www-authenticate"]; tc.wantStatus != 200 && got != tc.wantAuthn {
				t.Errorf("WWW-Authenticate %q, want %q", got, tc.wantAuthn)
			}
		})
	}
	// Two headers sent separately (encode_raw_headers: header_map entries).
	r := req{ext: e}.build(t)
	r.Attributes.Request.Http.Headers = nil
	r.Attributes.Request.Http.HeaderMap = &corev3.HeaderMap{Headers: []*corev3.HeaderValue{
		{Key: "authorization", Value: "Bearer " + tok}, {Key: "authorization", Value: "Bearer ory_at_x"},
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := x.client.Check(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if o := summarize(t, resp); o.status != 401 {
		t.Errorf("two header_map entries: %v, want 401", o)
	}
	assertNoTokens(t, x.logs, tok, huge)
}

// A JWT access token from Hydra (as jwt_authn puts its verified payload in
// metadata): its "scp" list meets require like an introspected token's
// scope.
func TestRequireJWTScopes(t *testing.T) {
	h := hydratest.Start(t)
	c := h.CreateClient(hydratest.ClientOptions{Scopes: []string{"orders:read", "orders:write"}, JWT: true})
	payload := jwtPayload(t, h.Token(c, "orders:read"))
	cfg := testConfig()
	cfg.JWTAuth["hydra-jwt"] = JWTAuth{Issuer: h.Issuer}
	s, logs := newTestService(t, cfg)
	meta := map[string]any{"hydra-jwt": payload}
	for _, tc := range []struct {
		scopes, claims string
		want           int
	}{
		{"orders:read", "", 200},
		{"orders:write", "", 403},
		{"", `{"client_id":"` + c.ID + `"}`, 200},
		{"", `{"client_id":"someone-else"}`, 403},
		// One scope and one claim unmet: as many of each, still a denial.
		{"orders:write", `{"client_id":"someone-else"}`, 403},
	} {
		o := check(t, s, req{jwt: meta, ext: extReq("hydra-jwt", "", tc.scopes, tc.claims)}.build(t))
		reasons := logs.last(t).Reasons
		if o.status != tc.want {
			t.Errorf("scopes %q claims %s: %v (reasons %q), want %d", tc.scopes, tc.claims, o, reasons, tc.want)
		}
		// A reason for each kind unmet, none for a kind that is met.
		joined := strings.Join(reasons, "; ")
		if got, want := strings.Contains(joined, "lacks required scopes"), tc.want == 403 && tc.scopes != ""; got != want {
			t.Errorf("scopes %q claims %s: reasons %q, a scopes reason %v, want %v", tc.scopes, tc.claims, reasons, got, want)
		}
		if got, want := strings.Contains(joined, "do not hold the required values"), tc.want == 403 && tc.claims != ""; got != want {
			t.Errorf("scopes %q claims %s: reasons %q, a claims reason %v, want %v", tc.scopes, tc.claims, reasons, got, want)
		}
		if o.status == 403 && !strings.Contains(o.headers["www-authenticate"], `error="insufficient_scope"`) {
			t.Errorf("403 without insufficient_scope: %v", o)
		}
	}
}

func jwtPayload(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// assertNoTokens: no decision (what reaches the decision log) holds a token.
func assertNoTokens(t *testing.T, logs *decisions, tokens ...string) {
	t.Helper()
	logs.mu.Lock()
	defer logs.mu.Unlock()
	for _, d := range logs.all {
		b, _ := json.Marshal(d)
		for _, tok := range tokens {
			if len(tok) > 16 && strings.Contains(string(b), tok[:16]) {
				t.Errorf("a decision holds a token: %s", b)
				return
			}
		}
	}
}
