package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	rlcommon "github.com/envoyproxy/go-control-plane/envoy/extensions/common/ratelimit/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	metadatav3 "github.com/envoyproxy/go-control-plane/envoy/type/metadata/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

const acmeKey = "gh_e2e-acme-secret-key"

func servicesPolicy(appPort string) map[string]string {
	sum := sha256.Sum256([]byte(acmeKey))
	return map[string]string{
		"gateway.yaml": gatewayYAML,
		"app.yaml":     "kind: Service\nname: app\nspec:\n  discovery:\n    static: [{address: 127.0.0.1, port: " + appPort + "}]\n",
		"auth.yaml": `kind: Authentication
name: keys
spec:
  apiKey: {header: x-api-key}
---
kind: Consumer
name: acme
spec:
  apiKeys: [{id: acme-1, sha256: ` + hex.EncodeToString(sum[:]) + `}]
  groups: [partners]
---
kind: Authorization
name: partners-read
spec:
  inline: |
    package envoy.authz
    import data.gatehouse.lib
    default allow := false
    allow if {
      lib.method_in(["GET", "HEAD"])
      "partners" in input.gatehouse.groups
    }
---
kind: RateLimit
name: per-consumer
spec:
  limits:
    - {key: [consumer], requests: 3, per: day}
`,
		"route.yaml": `kind: Route
name: api
spec:
  gateways: [public]
  match: {path: {prefix: /api}}
  backends: [{service: app}]
  authentication: [keys]
  authorization: partners-read
  rateLimit: per-consumer
`,
	}
}

// The Envoy config gatehouse serves and the ext_authz and rate-limit
// services on the same port agree: the per-route context extensions lead
// the authz service to the right Authentication and Authorization, the
// consumer it returns in dynamic metadata feeds the route's rate-limit
// descriptors, and the rate-limit service counts them per consumer. Every
// call is made as Envoy would make it, from the served route config.
func TestServedConfigDrivesAuthzAndRateLimit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writePolicy(t, dir, servicesPolicy("9001"))
	g := startGatehouse(t, dir)

	// What Envoy would get for the route.
	s := dialADS(t, g, "svc-envoy", "public")
	s.subscribe(resourcev3.ListenerType, nil)
	var rc *routev3.RouteConfiguration
	for rc == nil {
		r := s.next(5 * time.Second)
		if r == nil {
			t.Fatal("no route configuration within 5s")
		}
		if r.TypeUrl == resourcev3.RouteType {
			rc = &routev3.RouteConfiguration{}
			if err := r.Resources[0].UnmarshalTo(rc); err != nil {
				t.Fatal(err)
			}
		}
	}
	route := findRoute(t, rc, "api")
	per := &extauthzv3.ExtAuthzPerRoute{}
	if err := route.TypedPerFilterConfig[wire.FilterExtAuthzClosed].UnmarshalTo(per); err != nil {
		t.Fatalf("route api: fail-closed ext_authz per-route config: %v", err)
	}
	ctxExt := per.GetCheckSettings().GetContextExtensions()
	if ctxExt[wire.CtxAuthorization] != "partners-read" || ctxExt[wire.CtxAuthentication] != "keys" {
		t.Fatalf("context extensions = %v", ctxExt)
	}

	cc, err := grpc.NewClient(g.XDSAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	authz := authv3.NewAuthorizationClient(cc)
	check := func(method string, headers map[string]string) *authv3.CheckResponse {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := authz.Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
				Method: method, Path: "/api/items", Host: "api.example.com", Headers: headers,
			}},
			ContextExtensions: ctxExt,
		}})
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		return resp
	}

	if r := check("GET", nil); r.GetDeniedResponse().GetStatus().GetCode() != 401 || !hasHeader(r.GetDeniedResponse().GetHeaders(), "www-authenticate") {
		t.Fatalf("no key: %v", r)
	}
	if r := check("GET", map[string]string{"x-api-key": "wrong"}); r.GetDeniedResponse().GetStatus().GetCode() != 401 {
		t.Fatalf("wrong key: %v", r)
	}
	if r := check("POST", map[string]string{"x-api-key": acmeKey}); r.GetDeniedResponse().GetStatus().GetCode() != 403 {
		t.Fatalf("POST denied by Rego expected 403: %v", r)
	}
	ok := check("GET", map[string]string{"x-api-key": acmeKey, wire.ConsumerHeader: "evil"})
	if codes.Code(ok.GetStatus().GetCode()) != codes.OK {
		t.Fatalf("valid key, GET: %v", ok)
	}
	if v := headerValue(ok.GetOkResponse().GetHeaders(), wire.ConsumerHeader); v != "acme" {
		t.Fatalf("consumer header upstream = %q, want acme (spoofed value overwritten)", v)
	}
	consumer := ok.GetDynamicMetadata().GetFields()[wire.ConsumerMetadataKey].GetStringValue()
	if consumer != "acme" {
		t.Fatalf("dynamic metadata consumer = %q", consumer)
	}
	// The decisions are on /metrics, per Authorization, outcome and engine
	// (the 401s are decided before any Rego runs).
	_, metrics := g.Get("/metrics")
	for _, want := range []string{
		`gatehouse_authz_decisions_total{authorization="partners-read",decision="allow",engine="ir"} 1`,
		`gatehouse_authz_decisions_total{authorization="partners-read",decision="deny",engine="ir"} 1`,
		`gatehouse_authz_decisions_total{authorization="partners-read",decision="deny",engine="none"} 2`,
		`gatehouse_authz_decision_duration_seconds_count 4`,
	} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// Rate limit: descriptors from the served route's actions, with the
	// dynamic metadata ext_authz just returned, as Envoy builds them.
	rls := rlsv3.NewRateLimitServiceClient(cc)
	shouldRateLimit := func(consumer string) rlsv3.RateLimitResponse_Code {
		t.Helper()
		md := map[string]*structpb.Struct{wire.ConsumerMetadataNamespace: {Fields: map[string]*structpb.Value{
			wire.ConsumerMetadataKey: structpb.NewStringValue(consumer)}}}
		var descs []*rlcommon.RateLimitDescriptor
		for _, rl := range route.GetRoute().GetRateLimits() {
			if d := descriptor(t, rl, md); d != nil {
				descs = append(descs, d)
			}
		}
		if len(descs) == 0 {
			t.Fatal("route api has no rate-limit descriptors")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := rls.ShouldRateLimit(ctx, &rlsv3.RateLimitRequest{Domain: wire.Domain("public"), Descriptors: descs})
		if err != nil {
			t.Fatalf("ShouldRateLimit: %v", err)
		}
		return resp.OverallCode
	}
	for i := 1; i <= 3; i++ {
		if c := shouldRateLimit("acme"); c != rlsv3.RateLimitResponse_OK {
			t.Fatalf("acme request %d: %v, want OK", i, c)
		}
	}
	if c := shouldRateLimit("acme"); c != rlsv3.RateLimitResponse_OVER_LIMIT {
		t.Fatalf("acme request 4: %v, want OVER_LIMIT (limit 3 per day)", c)
	}
	if c := shouldRateLimit("other"); c != rlsv3.RateLimitResponse_OK {
		t.Fatalf("another consumer: %v, want OK (counters are per consumer)", c)
	}
}

func findRoute(t *testing.T, rc *routev3.RouteConfiguration, name string) *routev3.Route {
	t.Helper()
	for _, vh := range rc.VirtualHosts {
		for _, r := range vh.Routes {
			if r.Name == name {
				return r
			}
		}
	}
	t.Fatalf("route %q not in %s", name, rc.Name)
	return nil
}

// descriptor builds the descriptor Envoy would send for one rate_limits
// entry, for the actions gatehouse uses (generic_key, metadata); nil if an
// action yields nothing (Envoy then drops the descriptor).
func descriptor(t *testing.T, rl *routev3.RateLimit, md map[string]*structpb.Struct) *rlcommon.RateLimitDescriptor {
	t.Helper()
	d := &rlcommon.RateLimitDescriptor{}
	for _, a := range rl.Actions {
		switch {
		case a.GetGenericKey() != nil:
			k := a.GetGenericKey().GetDescriptorKey()
			if k == "" {
				k = "generic_key"
			}
			d.Entries = append(d.Entries, &rlcommon.RateLimitDescriptor_Entry{Key: k, Value: a.GetGenericKey().GetDescriptorValue()})
		case a.GetMetadata() != nil:
			m := a.GetMetadata()
			v := lookup(md[m.GetMetadataKey().GetKey()], m.GetMetadataKey().GetPath())
			if v == "" {
				v = m.GetDefaultValue()
			}
			if v == "" {
				return nil
			}
			d.Entries = append(d.Entries, &rlcommon.RateLimitDescriptor_Entry{Key: m.GetDescriptorKey(), Value: v})
		default:
			t.Fatalf("action %v not modelled by this test", a)
		}
	}
	return d
}

func lookup(s *structpb.Struct, path []*metadatav3.MetadataKey_PathSegment) string {
	var v *structpb.Value = structpb.NewStructValue(s)
	for _, seg := range path {
		v = v.GetStructValue().GetFields()[seg.GetKey()]
	}
	return v.GetStringValue()
}

func hasHeader(hs []*corev3.HeaderValueOption, name string) bool {
	return headerValue(hs, name) != ""
}

func headerValue(hs []*corev3.HeaderValueOption, name string) string {
	for _, h := range hs {
		if strings.EqualFold(h.GetHeader().GetKey(), name) {
			return h.GetHeader().GetValue()
		}
	}
	return ""
}
