package translate

import (
	"slices"
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// With ServiceTLS, Envoy reaches the ext_authz and rate-limit services over
// TLS with the proxy's client certificate, verifying gatehouse's
// certificate against the CA and the host it dials, and offering h2 (the
// gRPC server requires ALPN); the result passes Envoy's validation.
// Without it the clusters stay plaintext.
func TestServiceClustersOverTLS(t *testing.T) {
	st := &ServiceTLS{CAFile: "/tls/ca.pem", CertFile: "/tls/proxy.pem", KeyFile: "/tls/proxy-key.pem"}
	for _, dir := range []string{"testdata/in/auth", "testdata/in/ratelimit"} {
		snap, _ := loadCase(t, dir)
		for _, c := range []struct {
			opts    Options
			tls     bool
			sni     string
			sanType tlsv3.SubjectAltNameMatcher_SanType
		}{
			{Options{AuthzAddr: "gatehouse:18000", RateLimitAddr: "gatehouse:18000", ServiceTLS: st}, true, "gatehouse", tlsv3.SubjectAltNameMatcher_DNS},
			{Options{ServiceTLS: st}, true, "", tlsv3.SubjectAltNameMatcher_IP_ADDRESS},
			{Options{AuthzAddr: "gatehouse:18000", RateLimitAddr: "gatehouse:18000"}, false, "", 0},
		} {
			groups, err := Translate(snap, c.opts)
			if err != nil {
				t.Fatalf("%s: %v", dir, err)
			}
			found := 0
			for _, g := range groups {
				for _, r := range g.Clusters {
					cl := r.(*clusterv3.Cluster)
					if cl.GetName() != wire.AuthzCluster && cl.GetName() != wire.RateLimitCluster && cl.GetName() != wire.UsageCluster {
						continue
					}
					found++
					if err := cl.ValidateAll(); err != nil {
						t.Fatalf("%s %s: %v", dir, cl.GetName(), err)
					}
					if !c.tls {
						if cl.GetTransportSocket() != nil {
							t.Fatalf("%s %s: a transport socket without ServiceTLS", dir, cl.GetName())
						}
						continue
					}
					ctx := &tlsv3.UpstreamTlsContext{}
					if err := cl.GetTransportSocket().GetTypedConfig().UnmarshalTo(ctx); err != nil {
						t.Fatalf("%s %s: %v", dir, cl.GetName(), err)
					}
					common := ctx.GetCommonTlsContext()
					vc := common.GetValidationContext()
					certs := common.GetTlsCertificates()
					if ctx.GetSni() != c.sni || !slices.Equal(common.GetAlpnProtocols(), []string{"h2"}) ||
						vc.GetTrustedCa().GetFilename() != st.CAFile || len(vc.GetMatchTypedSubjectAltNames()) != 1 ||
						vc.GetMatchTypedSubjectAltNames()[0].GetSanType() != c.sanType ||
						len(certs) != 1 || certs[0].GetCertificateChain().GetFilename() != st.CertFile || certs[0].GetPrivateKey().GetFilename() != st.KeyFile {
						t.Fatalf("%s %s: TLS context %v", dir, cl.GetName(), ctx)
					}
				}
			}
			if found == 0 {
				t.Fatalf("%s: no service cluster", dir)
			}
		}
	}
	for _, bad := range []*ServiceTLS{{CertFile: "c", KeyFile: "k"}, {CAFile: "a", CertFile: "c"}, {CAFile: "a", KeyFile: "k"}} {
		if _, err := Translate(&policy.Snapshot{}, Options{ServiceTLS: bad}); err == nil || !strings.Contains(err.Error(), "ServiceTLS") {
			t.Errorf("%+v: %v, want an error naming ServiceTLS", bad, err)
		}
	}
}
