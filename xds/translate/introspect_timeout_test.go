package translate

import (
	"testing"
	"testing/fstest"
	"time"

	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	headermutationv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_mutation/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

func extAuthzTimeout(t *testing.T, a *anyT) time.Duration {
	t.Helper()
	var c extauthzv3.ExtAuthz
	if err := a.UnmarshalTo(&c); err != nil {
		t.Fatal(err)
	}
	return c.GetGrpcService().GetTimeout().AsDuration()
}

// The fail-closed ext_authz call must outlast the introspection it may
// wait for, or Envoy gives up first (its own 403) instead of the authz
// service's fail-closed 503 with its reason; and it is never shortened
// below the configured authz timeout, nor lengthened without introspection.
func TestExtAuthzTimeoutCoversIntrospection(t *testing.T) {
	for _, c := range []struct {
		authz, introspect, want time.Duration
	}{
		{100 * time.Millisecond, 0, 100 * time.Millisecond}, // no introspection: the authz timeout, even below the margin
		{250 * time.Millisecond, 3 * time.Second, 3250 * time.Millisecond},
		{3100 * time.Millisecond, 3 * time.Second, 3250 * time.Millisecond}, // longer than authz, shorter than introspection + margin
		{5 * time.Second, 3 * time.Second, 5 * time.Second},                 // never shortened
	} {
		got := extAuthzTimeout(t, extAuthzConfig(false, Options{AuthzTimeout: c.authz}, c.introspect, false))
		if got != c.want {
			t.Errorf("authz %v, introspection %v: call timeout %v, want %v", c.authz, c.introspect, got, c.want)
		}
	}
}

// An introspection Authentication without a timeout waits the default
// one: the call's timeout covers that default too.
func TestExtAuthzTimeoutCoversDefaultIntrospectionTimeout(t *testing.T) {
	src := `kind: Gateway
name: api
spec:
  listeners:
    - {name: http, port: 8080, protocol: HTTP}
---
kind: Service
name: orders
spec:
  discovery:
    static:
      - {address: 127.0.0.1, port: 9001}
---
kind: Authentication
name: opaque
spec:
  oauth2Introspection:
    endpoint: https://idp.example.com/oauth2/introspect
    issuer: https://idp.example.com/
    clientId: gatehouse
    clientSecretFile: secrets/introspect
---
kind: Route
name: orders
spec:
  gateways: [api]
  match:
    path: {prefix: /orders}
  backends: [{service: orders}]
  authentication: [opaque]
`
	snap := policy.Load(fstest.MapFS{"p.yaml": {Data: []byte(src)}, "secrets/introspect": {Data: []byte("s3cret\n")}}, nil)
	for _, r := range snap.Rejected {
		t.Fatalf("policy rejected %s: %v", r.Ref, r.Errors)
	}
	groups, err := Translate(snap, Options{AuthzTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	want := policy.DefaultIntrospectionTimeout + introspectionMargin
	found := false
	for _, h := range hcmsOf(t, groups[GroupKey{"api", ClientEnvoy}]) {
		for _, f := range h.GetHttpFilters() {
			if f.GetName() == wire.FilterExtAuthzClosed {
				found = true
				if got := extAuthzTimeout(t, f.GetTypedConfig()); got != want {
					t.Errorf("call timeout %v, want the default introspection timeout plus the margin, %v", got, want)
				}
			}
		}
	}
	if !found {
		t.Fatal("no fail-closed ext_authz filter")
	}
}

// On a Gateway with clientIP, the first filter removes every client-sent
// copy of the client-address header before it sets its own, so that the
// protection does not rest on the set alone: a set that Envoy skips (for
// example one whose formatted value comes out empty) must not leave the
// client's copy for the authz service to read as the detected address.
func TestClientIPHeaderRemovedBeforeItIsSet(t *testing.T) {
	g := clientIPGroup(t, "edge")
	for _, h := range hcmsOf(t, g) {
		f := h.GetHttpFilters()[0]
		if f.GetName() != wire.FilterHeaderMutation {
			t.Fatalf("first filter %s", f.GetName())
		}
		var hm headermutationv3.HeaderMutation
		if err := f.GetTypedConfig().UnmarshalTo(&hm); err != nil {
			t.Fatal(err)
		}
		removed, set := -1, -1
		for i, m := range hm.GetMutations().GetRequestMutations() {
			if m.GetRemove() == wire.ClientIPHeader {
				removed = i
			}
			if m.GetAppend().GetHeader().GetKey() == wire.ClientIPHeader {
				set = i
			}
		}
		if removed < 0 || set < 0 || removed > set {
			t.Fatalf("%s: remove at %d, set at %d; want the removal first", wire.ClientIPHeader, removed, set)
		}
	}
}
