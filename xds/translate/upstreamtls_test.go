package translate

import (
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
)

// upstreamTLSOf returns the UpstreamTlsContext of every cluster of g that
// has one, by cluster name.
func upstreamTLSOf(t *testing.T, g *Group) map[string]*tlsv3.UpstreamTlsContext {
	t.Helper()
	out := map[string]*tlsv3.UpstreamTlsContext{}
	for _, r := range g.Clusters {
		c := r.(*clusterv3.Cluster)
		ts := c.GetTransportSocket()
		if ts == nil {
			continue
		}
		u := &tlsv3.UpstreamTlsContext{}
		if err := ts.GetTypedConfig().UnmarshalTo(u); err != nil {
			t.Fatalf("cluster %s: %v", c.GetName(), err)
		}
		out[c.GetName()] = u
	}
	return out
}

// TestUpstreamTLSEnvoyAccepts: every TLS cluster Envoy gets (Services and
// JWKS fetches) names its CA in trusted_ca, never in system_root_certs
// (not implemented in Envoy), so its SAN matchers load and the chain is
// checked. Envoy: source/common/ssl/certificate_validation_context_config_impl.cc
// refuses SAN matchers without trusted_ca;
// source/common/tls/cert_validator/default_validator.cc verifies the chain
// only when trusted_ca is set.
func TestUpstreamTLSEnvoyAccepts(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   Options
		wantCA string
	}{
		{"default bundle", Options{}, DefaultSystemCAFile},
		{"flag", Options{SystemCAFile: "/etc/pki/tls/certs/ca-bundle.crt"}, "/etc/pki/tls/certs/ca-bundle.crt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			all := map[string]*tlsv3.UpstreamTlsContext{}
			for _, c := range []string{"services", "auth"} {
				for k, g := range translateCase(t, c, tc.opts) {
					if k.Client != ClientEnvoy {
						continue
					}
					for name, u := range upstreamTLSOf(t, g) {
						all[name] = u
					}
				}
			}
			for name, u := range all {
				vc := u.GetCommonTlsContext().GetValidationContext()
				if vc.GetSystemRootCerts() != nil {
					t.Errorf("%s: system_root_certs set (Envoy does not implement it)", name)
				}
				if vc.GetTrustedCa() == nil {
					t.Errorf("%s: no trusted_ca: Envoy would not verify the chain, and refuses SAN matchers without it", name)
				}
			}
			for name, want := range map[string]string{
				"svc/secure-grpc":      tc.wantCA, // sni only: the system bundle
				"jwks/idp.example.com": tc.wantCA,
				"svc/secure":           "", // caFile: inline
			} {
				u := all[name]
				if u == nil {
					t.Fatalf("%s: no TLS cluster", name)
				}
				ca := u.GetCommonTlsContext().GetValidationContext().GetTrustedCa()
				if ca.GetFilename() != want || (want == "") != (len(ca.GetInlineBytes()) > 0) {
					t.Errorf("%s: trusted_ca %v, want file %q", name, ca, want)
				}
			}
		})
	}
}
