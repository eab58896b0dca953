package authz

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/introspect"
)

// Tests written to kill surviving or uncovered mutants of `make mutate`
// (gremlins over the whole package; docs/testing.md). Each names the
// mutants it kills.

// A reload keeps the old Introspector (its cache of token answers and its
// breaker) only when nothing about the endpoint changed: a rotated client
// secret, a new endpoint or issuer, a shorter cache TTL must take effect at
// once, or tokens cached under the old settings keep being accepted. Every
// field of introspect.Config is changed in turn (by reflection, so a field
// added later and forgotten in sameIntrospect fails here). Killed mutants:
// every `==` of sameIntrospect negated and every `&&` turned into `||`
// (gremlins reported them not covered: no test reloaded an introspection
// Authentication).
func TestBuildIntroAuthKeepsOnlyAnUnchangedIntrospector(t *testing.T) {
	base := IntrospectAuth{Issuer: "https://idp.example.com/", Realm: "api", Introspect: introspect.Config{
		Endpoint: "https://idp.example.com/introspect", ClientID: "gw", ClientSecret: "s1",
		Timeout: time.Second, CacheTTL: time.Minute, NegativeTTL: 5 * time.Second, MaxEntries: 100,
		BreakerFailures: 3, BreakerCooldown: 2 * time.Second, MaxResponseBytes: 1 << 12,
		HTTPClient: &http.Client{},
	}}
	old, err := buildIntroAuth(base, nil)
	if err != nil {
		t.Fatal(err)
	}

	same, err := buildIntroAuth(base, old)
	if err != nil {
		t.Fatal(err)
	}
	if same.in != old.in {
		t.Error("unchanged configuration: a new Introspector, want the old one kept (its cache and breaker)")
	}
	// The realm is only the challenge's text: the Introspector is kept and
	// the new realm used.
	realm := base
	realm.Realm = "other"
	if got, err := buildIntroAuth(realm, old); err != nil || got.in != old.in || got.cfg.Realm != "other" {
		t.Errorf("realm changed: kept=%v realm=%q err=%v, want the old Introspector and the new realm", err == nil && got.in == old.in, got.cfg.Realm, err)
	}

	issuer := base
	issuer.Issuer = "https://other.example.com/"
	if got, err := buildIntroAuth(issuer, old); err != nil || got.in == old.in {
		t.Errorf("issuer changed: err=%v, want a new Introspector", err)
	}

	ct := reflect.TypeOf(introspect.Config{})
	for i := 0; i < ct.NumField(); i++ {
		f := ct.Field(i)
		if f.Name == "Now" { // a func, not comparable; set only by tests
			continue
		}
		changed := base
		v := reflect.ValueOf(&changed.Introspect).Elem().Field(i)
		switch v.Kind() {
		case reflect.String:
			v.SetString(v.String() + "x")
		case reflect.Bool:
			v.SetBool(!v.Bool())
		case reflect.Int, reflect.Int64:
			v.SetInt(v.Int() + 1)
		case reflect.Pointer:
			v.Set(reflect.New(v.Type().Elem()))
		default:
			t.Fatalf("introspect.Config.%s: kind %s not handled by this test", f.Name, v.Kind())
		}
		if sameIntrospect(base, changed) || sameIntrospect(changed, base) {
			t.Errorf("introspect.Config.%s changed: sameIntrospect says same", f.Name)
		}
		got, err := buildIntroAuth(changed, old)
		if err != nil {
			t.Fatalf("%s changed: %v", f.Name, err)
		}
		if got.in == old.in {
			t.Errorf("introspect.Config.%s changed: the old Introspector was kept", f.Name)
		}
	}
}

// Envoy's encode_raw_headers sends headers as header_map entries: one
// Authorization header there is a bearer token like any other, two are
// refused (never one of them silently ignored). Killed mutant: bearer's
// `n > 1` turned into `n >= 1` (which refused every raw-header request's
// token; only the two-entry case was tested), and headerValue's
// `v != ""` negated (identify.go: an entry's value or its raw value). The empty and oversized
// cases: gremlins counts a case clause's condition as not covered (Go's
// coverage gives it no block of its own), so `rest == ""` and
// `len(rest) > MaxBearerTokenBytes` negated or moved to `>=` are killed
// here, next to the code's other forms.
func TestBearerHeaderMapForms(t *testing.T) {
	entry := func(k, v string) *corev3.HeaderValue { return &corev3.HeaderValue{Key: k, Value: v} }
	raw := func(k, v string) *corev3.HeaderValue { return &corev3.HeaderValue{Key: k, RawValue: []byte(v)} }
	cases := []struct {
		name      string
		headers   map[string]string
		entries   []*corev3.HeaderValue
		token     string
		present   bool
		malformed string
	}{
		{name: "headers map", headers: map[string]string{"authorization": "Bearer abc.def"}, token: "abc.def", present: true},
		{name: "one header_map entry", entries: []*corev3.HeaderValue{entry("authorization", "Bearer abc.def")}, token: "abc.def", present: true},
		{name: "one raw header_map entry, other case", entries: []*corev3.HeaderValue{raw("Authorization", "bearer abc")}, token: "abc", present: true},
		{name: "one entry beside other headers", entries: []*corev3.HeaderValue{entry("x-a", "1"), entry("authorization", "Bearer abc"), entry("x-b", "2")}, token: "abc", present: true},
		{name: "two header_map entries", entries: []*corev3.HeaderValue{entry("authorization", "Bearer abc"), raw("AUTHORIZATION", "Bearer def")}, present: true, malformed: "more than one Authorization header"},
		{name: "no Authorization", entries: []*corev3.HeaderValue{entry("x-a", "1")}},
		{name: "another scheme", entries: []*corev3.HeaderValue{entry("authorization", "Basic Zm9vOmJhcg==")}},
		{name: "empty token", headers: map[string]string{"authorization": "Bearer "}, present: true, malformed: "empty bearer token"},
		{name: "token at the size limit", headers: map[string]string{"authorization": "Bearer " + strings.Repeat("a", MaxBearerTokenBytes)}, token: strings.Repeat("a", MaxBearerTokenBytes), present: true},
		{name: "token past the size limit", headers: map[string]string{"authorization": "Bearer " + strings.Repeat("a", MaxBearerTokenBytes+1)}, present: true, malformed: fmt.Sprintf("bearer token longer than %d bytes", MaxBearerTokenBytes)},
	}
	for _, c := range cases {
		h := &authv3.AttributeContext_HttpRequest{Headers: c.headers}
		if c.entries != nil {
			h.HeaderMap = &corev3.HeaderMap{Headers: c.entries}
		}
		token, present, malformed := bearer(h)
		if token != c.token || present != c.present || malformed != c.malformed {
			t.Errorf("%s: bearer = (%q, %v, %q), want (%q, %v, %q)", c.name, token, present, malformed, c.token, c.present, c.malformed)
		}
	}
}
