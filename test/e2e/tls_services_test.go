package e2e

import (
	"context"
	"crypto/tls"
	"math"
	"strings"
	"testing"
	"time"

	rlcommon "github.com/envoyproxy/go-control-plane/envoy/extensions/common/ratelimit/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/gatehouse-dev/gatehouse/pkg/peerauth"
	"github.com/gatehouse-dev/gatehouse/pkg/peerauth/peerauthtest"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// With mTLS, ext_authz and rate limit answer only proxies with a client
// certificate of the trust domain: a caller without one is refused at the
// handshake whatever x-forwarded-client-cert it sends; a proxy of another
// Gateway cannot count against this Gateway's rate-limit domain; an
// x-forwarded-client-cert header inside a Check request changes nothing;
// a hits_addend of 2^32-1 on a RateLimit that does not allow it counts
// nothing. The gatehouse binary serves it all on one mTLS port.
func TestRequestPathServicesOverMTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writePolicy(t, dir, servicesPolicy("9001"))
	ca := peerauthtest.NewCA(t, "services CA")
	srv := ca.WriteFiles(t, t.TempDir(), ca.Server(t))
	g := startGatehouse(t, dir, "--tls-cert", srv.Cert, "--tls-key", srv.Key, "--client-ca", srv.CA)

	dial := func(certs ...tls.Certificate) *grpc.ClientConn {
		cc, err := grpc.NewClient(g.XDSAddr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: ca.Pool(), Certificates: certs})))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cc.Close() })
		return cc
	}
	cert := func(gw string) tls.Certificate {
		return ca.Issue(t, peerauthtest.Leaf{URIs: []string{peerauth.SPIFFEID(peerauth.DefaultTrustDomain, gw)}}).TLS
	}
	public, other, anonymous := dial(cert("public")), dial(cert("other")), dial()
	xfcc := "By=" + peerauth.SPIFFEID(peerauth.DefaultTrustDomain, "public") + ";URI=" + peerauth.SPIFFEID(peerauth.DefaultTrustDomain, "public")

	checkReq := func(headers map[string]string) *authv3.CheckRequest {
		return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
				Method: "GET", Path: "/api/items", Host: "api.example.com", Headers: headers,
			}},
			ContextExtensions: map[string]string{wire.CtxAuthorization: "partners-read", wire.CtxAuthentication: "keys"},
		}}
	}
	check := func(cc *grpc.ClientConn, md metadata.MD, headers map[string]string) (*authv3.CheckResponse, error) {
		ctx, cancel := context.WithTimeout(metadata.NewOutgoingContext(context.Background(), md), 5*time.Second)
		defer cancel()
		return authv3.NewAuthorizationClient(cc).Check(ctx, checkReq(headers))
	}
	descs := []*rlcommon.RateLimitDescriptor{{Entries: []*rlcommon.RateLimitDescriptor_Entry{
		{Key: wire.DescRateLimit, Value: "per-consumer#0"}, {Key: "consumer", Value: "acme"}}}}
	limit := func(cc *grpc.ClientConn, md metadata.MD, domain string, hits uint32) (rlsv3.RateLimitResponse_Code, error) {
		ctx, cancel := context.WithTimeout(metadata.NewOutgoingContext(context.Background(), md), 5*time.Second)
		defer cancel()
		r, err := rlsv3.NewRateLimitServiceClient(cc).ShouldRateLimit(ctx, &rlsv3.RateLimitRequest{Domain: domain, Descriptors: descs, HitsAddend: hits})
		return r.GetOverallCode(), err
	}

	// No client certificate: refused before any service runs, spoofed
	// forwarded-client-cert metadata or not.
	for _, md := range []metadata.MD{nil, metadata.Pairs("x-forwarded-client-cert", xfcc)} {
		if _, err := check(anonymous, md, map[string]string{"x-api-key": acmeKey}); err == nil {
			t.Errorf("ext_authz without a client certificate (metadata %v) answered", md)
		}
		if _, err := limit(anonymous, md, wire.Domain("public"), 1); err == nil {
			t.Errorf("rate limit without a client certificate (metadata %v) answered", md)
		}
	}

	// The Gateway's own proxy: decisions as usual; a forwarded-client-cert
	// header in the checked request is just a request header.
	r, err := check(public, nil, map[string]string{"x-api-key": acmeKey, "x-forwarded-client-cert": xfcc})
	if err != nil || codes.Code(r.GetStatus().GetCode()) != codes.OK {
		t.Fatalf("ext_authz from the Gateway's proxy: %v, %v", r, err)
	}
	if r, err := check(public, nil, map[string]string{"x-forwarded-client-cert": xfcc}); err != nil || r.GetDeniedResponse().GetStatus().GetCode() != 401 {
		t.Fatalf("ext_authz with only a forwarded-client-cert header: %v, %v; want 401", r, err)
	}

	// Another Gateway's proxy cannot spend this Gateway's counters, even
	// with metadata claiming to be its proxy.
	for _, md := range []metadata.MD{nil, metadata.Pairs("x-forwarded-client-cert", xfcc)} {
		if _, err := limit(other, md, wire.Domain("public"), 1); status.Code(err) != codes.PermissionDenied {
			t.Errorf("rate limit of public from other's proxy: %v, want PermissionDenied", err)
		}
	}
	// hits_addend 2^32-1 where the RateLimit allows 1: refused, not counted.
	if c, err := limit(public, nil, wire.Domain("public"), math.MaxUint32); err != nil || c != rlsv3.RateLimitResponse_OVER_LIMIT {
		t.Fatalf("hits_addend 2^32-1: %v, %v; want OVER_LIMIT", c, err)
	}
	for i := 1; i <= 3; i++ {
		if c, err := limit(public, nil, wire.Domain("public"), 1); err != nil || c != rlsv3.RateLimitResponse_OK {
			t.Fatalf("request %d of 3 after the refused addend: %v, %v", i, c, err)
		}
	}
	if c, _ := limit(public, nil, wire.Domain("public"), 1); c != rlsv3.RateLimitResponse_OVER_LIMIT {
		t.Fatalf("request 4 of 3: %v", c)
	}

	_, metrics := g.Get("/metrics")
	for _, want := range []string{
		`gatehouse_peer_calls_refused_total{reason="domain_mismatch",service="ratelimit"} 2`,
		`gatehouse_peer_handshakes_refused_total{reason="no_client_cert"}`,
		`gatehouse_ratelimit_ignored_descriptors_total{reason="hits_addend_refused"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// A replica running only some components (--components) secures its gRPC
// port the same way: a rate-limit-only replica refuses plaintext and holds
// an authenticated proxy to its own Gateway's domain.
func TestComponentReplicaOverMTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writePolicy(t, dir, servicesPolicy("9001"))
	ca := peerauthtest.NewCA(t, "replica CA")
	srv := ca.WriteFiles(t, t.TempDir(), ca.Server(t))
	g := startGatehouse(t, dir, "--components", "ratelimit", "--tls-cert", srv.Cert, "--tls-key", srv.Key, "--client-ca", srv.CA)
	descs := []*rlcommon.RateLimitDescriptor{{Entries: []*rlcommon.RateLimitDescriptor_Entry{
		{Key: wire.DescRateLimit, Value: "per-consumer#0"}, {Key: "consumer", Value: "acme"}}}}
	call := func(creds credentials.TransportCredentials, domain string) error {
		cc, err := grpc.NewClient(g.XDSAddr, grpc.WithTransportCredentials(creds))
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err = rlsv3.NewRateLimitServiceClient(cc).ShouldRateLimit(ctx, &rlsv3.RateLimitRequest{Domain: domain, Descriptors: descs})
		return err
	}
	public := credentials.NewTLS(&tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{
		ca.Issue(t, peerauthtest.Leaf{URIs: []string{peerauth.SPIFFEID(peerauth.DefaultTrustDomain, "public")}}).TLS}})
	if err := call(public, wire.Domain("public")); err != nil {
		t.Fatalf("own domain: %v", err)
	}
	if err := call(public, wire.Domain("other")); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("another domain: %v, want PermissionDenied", err)
	}
	if err := call(insecure.NewCredentials(), wire.Domain("public")); err == nil {
		t.Fatal("plaintext admitted")
	}
}
