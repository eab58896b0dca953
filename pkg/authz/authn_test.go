package authz

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

func TestAuthentication(t *testing.T) {
	s, logs := newTestService(t, testConfig())
	keys := "partner-keys"
	jwtOrKey := "corp-jwt,partner-keys"
	acmeJWT := map[string]any{"corp-jwt": map[string]any{"iss": "https://idp.example.com/", "sub": "acme-batch", "exp": 1.9e9}}
	strangerJWT := map[string]any{"corp-jwt": map[string]any{"iss": "https://idp.example.com/", "sub": "alice"}}
	anonExt := ext("r", keys, "")
	anonExt[wire.CtxAllowAnonymous] = "true"

	tests := []struct {
		name         string
		r            req
		wantStatus   int
		wantConsumer string
		wantBy       string
		challenge    string // substring of WWW-Authenticate on 401
	}{
		{"valid key", req{headers: map[string]string{"x-api-key": testKey}, ext: ext("r", keys, "")}, 200, "acme", "partner-keys", ""},
		{"invalid key", req{headers: map[string]string{"x-api-key": "gh_wrong"}, ext: ext("r", keys, "")}, 401, "anonymous", "", `ApiKey realm="public", header="x-api-key", error="invalid_key"`},
		{"missing key", req{ext: ext("r", keys, "")}, 401, "anonymous", "", `ApiKey realm="public", header="x-api-key"`},
		{"key in query", req{path: "/x?api_key=" + testKey, ext: ext("r", "query-keys", "")}, 200, "acme", "query-keys", ""},
		{"key in wrong place", req{path: "/x?api_key=" + testKey, ext: ext("r", keys, "")}, 401, "anonymous", "", "header="},
		{"missing key, anonymous allowed", req{ext: anonExt}, 200, "anonymous", "", ""},
		{"invalid key, anonymous allowed", req{headers: map[string]string{"x-api-key": "nope"}, ext: anonExt}, 401, "anonymous", "", "invalid_key"},
		{"no authentication on route", req{headers: map[string]string{"x-api-key": "nope"}, ext: ext("r", "", "")}, 200, "anonymous", "", ""},
		{"jwt of a consumer", req{jwt: acmeJWT, ext: ext("r", jwtOrKey, "")}, 200, "acme", "corp-jwt", ""},
		{"jwt wins over bad key", req{jwt: acmeJWT, headers: map[string]string{"x-api-key": "bad"}, ext: ext("r", jwtOrKey, "")}, 200, "acme", "corp-jwt", ""},
		{"jwt without consumer", req{jwt: strangerJWT, ext: ext("r", jwtOrKey, "")}, 200, "anonymous", "corp-jwt", ""},
		{"key when jwt missing", req{headers: map[string]string{"x-api-key": testKey}, ext: ext("r", jwtOrKey, "")}, 200, "acme", "partner-keys", ""},
		{"nothing, jwt or key", req{ext: ext("r", jwtOrKey, "")}, 401, "anonymous", "", `Bearer realm="public", ApiKey realm="public", header="x-api-key"`},
		{"payload of another provider", req{jwt: map[string]any{"other-jwt": map[string]any{"sub": "acme-batch"}}, ext: ext("r", jwtOrKey, "")}, 401, "anonymous", "", "Bearer"},
		{"unknown authentication name", req{headers: map[string]string{"x-api-key": testKey}, ext: ext("r", "ghost", "")}, 401, "anonymous", "", ""},
		{"spoofed consumer header", req{headers: map[string]string{"x-api-key": testKey, "x-gatehouse-consumer": "other"}, ext: ext("r", keys, "")}, 200, "acme", "partner-keys", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := check(t, s, tc.r.build(t))
			if o.status != tc.wantStatus {
				t.Fatalf("got %v, want status %d", o, tc.wantStatus)
			}
			d := logs.last(t)
			if d.Consumer != tc.wantConsumer || d.AuthenticatedBy != tc.wantBy {
				t.Errorf("decision consumer %q by %q, want %q by %q", d.Consumer, d.AuthenticatedBy, tc.wantConsumer, tc.wantBy)
			}
			if o.meta[wire.DecisionIDMetadataKey] != d.ID || len(d.ID) != 32 {
				t.Errorf("metadata decision id %v, logged %q", o.meta[wire.DecisionIDMetadataKey], d.ID)
			}
			if o.meta[wire.ConsumerMetadataKey] != tc.wantConsumer {
				t.Errorf("metadata consumer %v, want %q", o.meta[wire.ConsumerMetadataKey], tc.wantConsumer)
			}
			if tc.wantStatus == 200 {
				if o.headers[wire.ConsumerHeader] != tc.wantConsumer || !o.appendOv[wire.ConsumerHeader] {
					t.Errorf("consumer header %q (overwrite %v), want %q overwritten", o.headers[wire.ConsumerHeader], o.appendOv[wire.ConsumerHeader], tc.wantConsumer)
				}
			}
			if tc.wantStatus == 401 && !strings.Contains(o.headers["www-authenticate"], tc.challenge) {
				t.Errorf("WWW-Authenticate %q, want it to contain %q", o.headers["www-authenticate"], tc.challenge)
			}
		})
	}
}

func TestGroupsAllow(t *testing.T) {
	s, logs := newTestService(t, testConfig())
	for _, tc := range []struct {
		key  string
		want int
	}{{testKey, 200}, {"gh_other", 403}} {
		o := check(t, s, req{headers: map[string]string{"x-api-key": tc.key}, ext: ext("r", "partner-keys", "partners-only")}.build(t))
		if o.status != tc.want {
			t.Errorf("key of %s: %v, want %d (%v)", logs.last(t).Consumer, o, tc.want, logs.last(t).Reasons)
		}
	}
	// A policy the service does not know fails closed.
	o := check(t, s, req{ext: ext("r", "", "ghost")}.build(t))
	if o.status != 403 {
		t.Errorf("unknown policy: %v, want 403", o)
	}
}

// The decision log must never carry a credential, whatever the request holds.
func TestDecisionLogHasNoCredentials(t *testing.T) {
	s, logs := newTestService(t, testConfig())
	secrets := []string{testKey, "Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig", "session=s3cr3t", "gh_wrong-key"}
	rs := []req{
		{headers: map[string]string{"x-api-key": testKey, "authorization": secrets[1], "cookie": secrets[2]}, ext: ext("r", "partner-keys", "")},
		{path: "/x?api_key=" + testKey, ext: ext("r", "query-keys", "")},
		{headers: map[string]string{"x-api-key": secrets[3]}, ext: ext("r", "partner-keys", "")},
	}
	for _, r := range rs {
		check(t, s, r.build(t))
	}
	b, err := json.Marshal(logs.all)
	if err != nil {
		t.Fatal(err)
	}
	for _, sec := range secrets {
		if strings.Contains(string(b), sec) {
			t.Errorf("decision log contains %q: %s", sec, b)
		}
	}
	if !strings.Contains(string(b), `"path":"/x"`) {
		t.Errorf("decision log lacks the query-less path: %s", b)
	}
}

func TestUpdateRejectsBadConfig(t *testing.T) {
	s, _ := newTestService(t, testConfig())
	bad := testConfig()
	bad.APIKeyAuth["both"] = APIKeyAuth{Header: "a", Query: "b"}
	bad.Consumers["dup"] = Consumer{APIKeys: []APIKey{{ID: "x", SHA256: KeyDigest(testKey)}}}
	err := s.Update(t.Context(), bad)
	if err == nil || !strings.Contains(err.Error(), `"both"`) || !strings.Contains(err.Error(), `same hash`) {
		t.Fatalf("Update: %v, want both errors", err)
	}
	// The last good config still decides.
	if o := check(t, s, req{headers: map[string]string{"x-api-key": testKey}, ext: ext("r", "partner-keys", "")}.build(t)); o.status != 200 {
		t.Errorf("after a rejected update: %v", o)
	}
}

func TestParseKeyDigest(t *testing.T) {
	d := KeyDigest("test")
	got, err := ParseKeyDigest("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
	if err != nil || got != d {
		t.Fatalf("ParseKeyDigest: %x %v, want %x", got, err, d)
	}
	for _, bad := range []string{"", "9f86", strings.Repeat("zz", 32)} {
		if _, err := ParseKeyDigest(bad); err == nil {
			t.Errorf("ParseKeyDigest(%q) accepted", bad)
		}
	}
}

// TestCheckAsAnonymous: `gatehouse authz eval` without a consumer judges
// the request as the anonymous consumer, not as one named "".
func TestCheckAsAnonymous(t *testing.T) {
	s, _ := newTestService(t, testConfig())
	r := req{ext: ext("r", "", "partners-only")}.build(t)
	if _, d := s.CheckAs(context.Background(), r, "", nil); d.Consumer != wire.AnonymousConsumer {
		t.Errorf("consumer %q, want %q", d.Consumer, wire.AnonymousConsumer)
	}
	if _, d := s.CheckAs(context.Background(), r, "acme", []string{"partners"}); d.Consumer != "acme" || !d.Allowed {
		t.Errorf("as acme in partners: consumer %q, allowed %v", d.Consumer, d.Allowed)
	}
}

// TestFloatToAST: the doubles of a CheckRequest (Struct numbers in its
// metadata) that JSON cannot hold reach Rego as strings, as
// protojson writes them.
func TestFloatToAST(t *testing.T) {
	for f, want := range map[float64]string{math.Inf(1): `"Infinity"`, math.Inf(-1): `"-Infinity"`, 1.5: `1.5`} {
		if got := floatToAST(f).String(); got != want {
			t.Errorf("%v: %s, want %s", f, got, want)
		}
	}
	if got := floatToAST(math.NaN()).String(); got != `"NaN"` {
		t.Errorf("NaN: %s", got)
	}
}
