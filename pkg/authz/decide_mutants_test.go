package authz

import (
	"context"
	"crypto/sha256"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// Tests written to kill surviving mutants of the security decisions (make
// mutate-security; docs/testing.md). Each names the mutant it kills.

// The decision log says which Authentication identified the caller, and
// says nothing of the kind for an anonymous caller: an audit that reads
// "authenticated by" must be able to trust it. Killed mutant: `if id.by
// != ""` negated in decide.
func TestDecisionReasonNamesTheAuthentication(t *testing.T) {
	s, logs := newTestService(t, testConfig())
	anon := ext("r", "partner-keys", "")
	anon[wire.CtxAllowAnonymous] = "true"
	cases := []struct {
		name string
		r    req
		want string // the "authenticated by" reason, "" for none
	}{
		{"api key", req{headers: map[string]string{"x-api-key": testKey}, ext: ext("r", "partner-keys", "")}, "authenticated by partner-keys"},
		{"jwt", req{jwt: map[string]any{"corp-jwt": map[string]any{"iss": "https://idp.example.com/", "sub": "acme-batch"}}, ext: ext("r", "corp-jwt", "")}, "authenticated by corp-jwt"},
		{"anonymous allowed", req{ext: anon}, ""},
		{"no authentication on the route", req{ext: ext("r", "", "")}, ""},
	}
	for _, c := range cases {
		o := check(t, s, c.r.build(t))
		if o.status != 200 {
			t.Fatalf("%s: %v, want 200", c.name, o)
		}
		d := logs.last(t)
		var got []string
		for _, r := range d.Reasons {
			if strings.HasPrefix(r, "authenticated by") {
				got = append(got, r)
			}
		}
		var want []string
		if c.want != "" {
			want = []string{c.want}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: reasons %q, want the authentication reason %q", c.name, d.Reasons, want)
		}
	}
}

// A query with several results decides nothing, so it denies, on both
// engines, even when every result would allow: which one counts is not
// defined. Killed mutant: `len(rs) > 1 || len(rs[0].Expressions) != 1`
// with && in evalTopdown (which then decided by the first result).
func TestSeveralResultsDeny(t *testing.T) {
	for _, engine := range []string{EngineIR, EngineTopdown} {
		logs := &decisions{}
		s, err := New(Options{DecisionLogger: logs.log, topdownOnly: engine == EngineTopdown})
		if err != nil {
			t.Fatal(err)
		}
		cfg := testConfig()
		mod := map[string]string{"policy.rego": rbacPolicy}
		cfg.Policies["booleans"] = Policy{Modules: mod, Query: "[true, true][_]"}
		cfg.Policies["objects"] = Policy{Modules: mod, Query: `[{"allowed": true}, {"allowed": true, "headers": {"x": "y"}}][_]`}
		cfg.Policies["one"] = Policy{Modules: mod, Query: "[true][_]"}
		if err := s.Update(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"booleans", "objects"} {
			o := check(t, s, req{ext: ext("r", "", p)}.build(t))
			d := logs.last(t)
			if o.status != 403 || d.Allowed {
				t.Errorf("%s, policy %s: %v, want 403; reasons %q", engine, p, o, d.Reasons)
			}
			if d.Engine == EngineTopdown && !slices.ContainsFunc(d.Reasons, func(r string) bool { return strings.Contains(r, "has 2 results, want 1") }) {
				t.Errorf("%s, policy %s: reasons %q, want the result count", engine, p, d.Reasons)
			}
		}
		// The control: the same shape with one result decides.
		if o := check(t, s, req{ext: ext("r", "", "one")}.build(t)); o.status != 200 {
			t.Errorf("%s, one result: %v, want 200; reasons %q", engine, o, logs.last(t).Reasons)
		}
	}
}

// A denial carries the gRPC code of its HTTP status: UNAUTHENTICATED for a
// 401 (no valid credential), PERMISSION_DENIED for every other denial, as
// opa-envoy-plugin answers. Killed mutant: `status == http.StatusUnauthorized`
// negated in denyWith.
func TestDenialGRPCCode(t *testing.T) {
	s, _ := newTestService(t, testConfig())
	cases := []struct {
		name       string
		r          req
		wantStatus int
		wantCode   codes.Code
	}{
		{"no credential", req{ext: ext("r", "partner-keys", "")}, 401, codes.Unauthenticated},
		{"unknown key", req{headers: map[string]string{"x-api-key": "gh_nope"}, ext: ext("r", "partner-keys", "")}, 401, codes.Unauthenticated},
		{"not in the group", req{headers: map[string]string{"x-api-key": "gh_other"}, ext: ext("r", "partner-keys", "partners-only")}, 403, codes.PermissionDenied},
		{"unknown authorization", req{ext: ext("r", "", "ghost")}, 403, codes.PermissionDenied},
	}
	for _, c := range cases {
		o := check(t, s, c.r.build(t))
		if o.status != c.wantStatus || codes.Code(o.resp.GetStatus().GetCode()) != c.wantCode {
			t.Errorf("%s: %v with gRPC code %v, want %d with %v", c.name, o, codes.Code(o.resp.GetStatus().GetCode()), c.wantStatus, c.wantCode)
		}
	}
}

// A JWT names its consumer by issuer and subject. A payload without "iss"
// takes the provider's issuer (jwt_authn verified it against that
// provider); one whose "iss" is another issuer's names no consumer, even
// with the subject of one; and an empty subject never names one. Killed
// mutant: `iss == ""` negated in identify (which gave every token the
// provider's issuer).
func TestJWTConsumerByIssuerAndSubject(t *testing.T) {
	cfg := testConfig()
	cfg.Consumers["nosub"] = Consumer{JWTSubjects: []JWTSubject{{Issuer: "https://idp.example.com/", Subject: ""}}}
	s, logs := newTestService(t, cfg)
	cases := []struct {
		name    string
		payload map[string]any
		want    string
	}{
		{"issuer and subject", map[string]any{"iss": "https://idp.example.com/", "sub": "acme-batch"}, "acme"},
		{"no iss claim", map[string]any{"sub": "acme-batch"}, "acme"},
		{"another issuer", map[string]any{"iss": "https://evil.example.com/", "sub": "acme-batch"}, wire.AnonymousConsumer},
		{"empty subject", map[string]any{"iss": "https://idp.example.com/", "sub": ""}, wire.AnonymousConsumer},
		{"no subject", map[string]any{"iss": "https://idp.example.com/"}, wire.AnonymousConsumer},
	}
	for _, c := range cases {
		o := check(t, s, req{jwt: map[string]any{"corp-jwt": c.payload}, ext: ext("r", "corp-jwt", "")}.build(t))
		d := logs.last(t)
		if o.status != 200 || d.Consumer != c.want || o.headers[wire.ConsumerHeader] != c.want || d.AuthenticatedBy != "corp-jwt" {
			t.Errorf("%s: %v, consumer %q by %q; want 200 for %q by corp-jwt", c.name, o, d.Consumer, d.AuthenticatedBy, c.want)
		}
	}
}

// A denial's http_status must be a status both Go and Envoy's StatusCode
// enum know (envoy/type/v3/http_status.proto), from 300 to 599: 0, or 418,
// 101, 451 (not in Envoy's enum) make the decision invalid, which denies
// with 403 and says why (naming "http_status"), never with the policy's
// status; 300, the lowest allowed, is taken. Killed mutants: the last || of
// the status check turned into && (which let a status known to only one of
// them through); `code < 300` moved to <= in denyStatus.
func TestDenyStatusMustBeKnownToEnvoy(t *testing.T) {
	cfg := testConfig()
	for _, st := range []string{"0", "101", "418", "451", "429", "401", "300", "599", "1.5", "-403", "99999999999999999999", `"429"`} {
		src := "package envoy.authz\n\nallow := {\"allowed\": false, \"http_status\": " + st + "}\n"
		cfg.Policies["status-"+st] = Policy{Modules: map[string]string{"policy.rego": src}}
	}
	for _, engine := range []string{EngineIR, EngineTopdown} {
		logs := &decisions{}
		s, err := New(Options{DecisionLogger: logs.log, topdownOnly: engine == EngineTopdown})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Update(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			status string
			want   int
			valid  bool
		}{
			{"429", 429, true}, {"401", 401, true}, {"300", 300, true}, {"599", 403, false},
			{"0", 403, false}, {"101", 403, false}, {"418", 403, false}, {"451", 403, false},
			{"1.5", 403, false}, {"-403", 403, false}, {"99999999999999999999", 403, false}, {`"429"`, 403, false},
		} {
			o := check(t, s, req{ext: ext("r", "", "status-"+c.status)}.build(t))
			d := logs.last(t)
			invalid := slices.ContainsFunc(d.Reasons, func(r string) bool { return strings.Contains(r, `"http_status"`) })
			if o.status != c.want || d.Allowed || invalid == c.valid {
				t.Errorf("%s, http_status %s: %v, reasons %q; want %d (decision valid: %v)", engine, c.status, o, d.Reasons, c.want, c.valid)
			}
		}
	}
}

// An API key's digest that the index maps to a consumer who does not hold
// it (an index out of step with the consumers) names nobody: lookupKey
// trusts only the consumer's own digests. Killed mutant: its last `return
// "", false` returning true (an empty consumer, authenticated).
func TestLookupKeyNeedsTheConsumersOwnDigest(t *testing.T) {
	s, _ := newTestService(t, testConfig())
	st := s.state.Load()
	if c, ok := st.lookupKey(testKey); !ok || c != "acme" {
		t.Fatalf("the real key: %q, %v", c, ok)
	}
	st.keys[sha256.Sum256([]byte("gh_forged"))] = "acme"
	if c, ok := st.lookupKey("gh_forged"); ok || c != "" {
		t.Errorf("a digest acme does not hold: %q, %v; want no consumer", c, ok)
	}
}
