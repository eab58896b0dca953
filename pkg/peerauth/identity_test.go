package peerauth

import (
	"crypto/x509"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

func TestGatewayOf(t *testing.T) {
	const td = "example.org"
	cases := []struct {
		name   string
		uris   []string
		dns    []string
		want   string
		reason string
	}{
		{"spiffe", []string{"spiffe://example.org/gateway/edge"}, nil, "edge", ""},
		{"dns", nil, []string{"edge.gateway.example.org"}, "edge", ""},
		{"both agree", []string{"spiffe://example.org/gateway/edge"}, []string{"edge.gateway.example.org"}, "edge", ""},
		{"both disagree", []string{"spiffe://example.org/gateway/edge"}, []string{"other.gateway.example.org"}, "", reasonAmbiguousIdentity},
		{"two spiffe", []string{"spiffe://example.org/gateway/a", "spiffe://example.org/gateway/b"}, nil, "", reasonAmbiguousIdentity},
		{"other trust domain", []string{"spiffe://evil.org/gateway/edge"}, []string{"edge.gateway.evil.org"}, "", reasonNoIdentity},
		{"trust domain as suffix", nil, []string{"edge.gateway.xexample.org", "edge.gateway.example.org.evil"}, "", reasonNoIdentity},
		{"not a gateway path", []string{"spiffe://example.org/ns/default/sa/edge", "spiffe://example.org/gateway/"}, nil, "", reasonNoIdentity},
		{"nested path", []string{"spiffe://example.org/gateway/edge/extra"}, nil, "", reasonNoIdentity},
		{"uppercase name", []string{"spiffe://example.org/gateway/Edge"}, nil, "", reasonNoIdentity},
		{"query", []string{"spiffe://example.org/gateway/edge?x=1"}, nil, "", reasonNoIdentity},
		{"port", []string{"spiffe://example.org:443/gateway/edge"}, nil, "", reasonNoIdentity},
		{"userinfo", []string{"spiffe://u@example.org/gateway/edge"}, nil, "", reasonNoIdentity},
		{"percent-encoded", []string{"spiffe://example.org/gateway/ed%67e"}, nil, "", reasonNoIdentity},
		{"encoded slash", []string{"spiffe://example.org/gateway%2Fedge"}, nil, "", reasonNoIdentity},
		{"empty query", []string{"spiffe://example.org/gateway/edge?"}, nil, "", reasonNoIdentity},
		{"fragment", []string{"spiffe://example.org/gateway/edge#x"}, nil, "", reasonNoIdentity},
		{"escaped fragment", []string{"spiffe://example.org/gateway/edge#%41"}, nil, "", reasonNoIdentity},
		{"opaque", []string{"spiffe:example.org/gateway/edge"}, nil, "", reasonNoIdentity},
		{"other scheme", []string{"https://example.org/gateway/edge"}, nil, "", reasonNoIdentity},
		{"dns two labels", nil, []string{"a.b.gateway.example.org"}, "", reasonNoIdentity},
		{"dns wildcard", nil, []string{"*.gateway.example.org"}, "", reasonNoIdentity},
		{"nothing", nil, nil, "", reasonNoIdentity},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cert := &x509.Certificate{DNSNames: c.dns}
			for _, u := range c.uris {
				pu, err := url.Parse(u)
				if err != nil {
					t.Fatal(err)
				}
				cert.URIs = append(cert.URIs, pu)
			}
			got, r := gatewayOf(cert, td)
			reason := ""
			if r != nil {
				reason = r.reason
			}
			if got != c.want || reason != c.reason {
				t.Fatalf("gatewayOf = %q, %q; want %q, %q", got, reason, c.want, c.reason)
			}
		})
	}
}

func TestCheckTrustDomain(t *testing.T) {
	for td, ok := range map[string]bool{"gatehouse": true, "example.org": true, "a_b-c.d": true,
		"": false, "Example.org": false, ".example": false, "example.": false, "a/b": false, "a b": false} {
		if err := CheckTrustDomain(td); (err == nil) != ok {
			t.Errorf("CheckTrustDomain(%q) = %v, want ok=%v", td, err, ok)
		}
	}
}

// Only a peer gatehouse's own credentials authenticated as a Gateway has
// one: plaintext, TLS of another kind and an unauthenticated TLS peer have
// none.
func TestGatewayOfPeer(t *testing.T) {
	for name, c := range map[string]struct {
		p    *peer.Peer
		want string
		ok   bool
	}{
		"no peer":           {nil, "", false},
		"plaintext":         {&peer.Peer{}, "", false},
		"grpc TLS":          {&peer.Peer{AuthInfo: credentials.TLSInfo{}}, "", false},
		"TLS, no identity":  {&peer.Peer{AuthInfo: AuthInfo{}}, "", false},
		"mTLS as a Gateway": {&peer.Peer{AuthInfo: AuthInfo{Gateway: "edge"}}, "edge", true},
	} {
		if got, ok := GatewayOf(c.p); got != c.want || ok != c.ok {
			t.Errorf("%s: GatewayOf = %q, %v; want %q, %v", name, got, ok, c.want, c.ok)
		}
	}
}

// Each verification failure gets its own reason and says what to do.
func TestClassify(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	cert := &x509.Certificate{NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-24 * time.Hour)}
	future := &x509.Certificate{NotBefore: now.Add(time.Hour), NotAfter: now.Add(48 * time.Hour)}
	for _, c := range []struct {
		err    error
		reason string
		msg    string
	}{
		{x509.CertificateInvalidError{Cert: cert, Reason: x509.Expired}, reasonExpired, "expired at 2026-05-31T00:00:00Z"},
		{x509.CertificateInvalidError{Reason: x509.Expired}, reasonExpired, "expired: renew it"},
		{x509.CertificateInvalidError{Cert: future, Reason: x509.Expired}, reasonNotYetValid, "not valid before 2026-06-01T01:00:00Z"},
		{x509.UnknownAuthorityError{}, reasonUnknownCA, "not signed by the client CA"},
		{x509.CertificateInvalidError{Cert: cert, Reason: x509.IncompatibleUsage}, reasonWrongUsage, "clientAuth"},
		{x509.CertificateInvalidError{Cert: cert, Reason: x509.NotAuthorizedToSign}, reasonInvalidCert, "does not verify"},
		{errors.New("other"), reasonInvalidCert, "does not verify: other"},
	} {
		r := classify(c.err, now)
		if r.reason != c.reason || !strings.Contains(r.msg, c.msg) {
			t.Errorf("%v: %s %q; want %s containing %q", c.err, r.reason, r.msg, c.reason, c.msg)
		}
	}
}

func TestServiceOf(t *testing.T) {
	for method, want := range map[string]string{
		"/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources": ServiceXDS,
		"/envoy.service.auth.v3.Authorization/Check":                                       ServiceAuthz,
		"/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit":                     ServiceRateLimit,
		"/envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs":                    ServiceUsage,
		"/grpc.health.v1.Health/Check":                                                     serviceOther,
	} {
		if got := serviceOf(method); got != want {
			t.Errorf("serviceOf(%s) = %s, want %s", method, got, want)
		}
	}
}
