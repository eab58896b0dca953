package envoy

import (
	"encoding/json"
	"strings"
	"testing"

	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
)

// --tls: the xDS cluster's transport socket is an UpstreamTlsContext with
// the client certificate, key and CA as files, h2 by ALPN, SNI and a SAN
// match on the host dialled (IP SAN, no SNI, for an IP); Envoy's own
// validation accepts the bootstrap.
func TestEnvoyBootstrapTLS(t *testing.T) {
	files := &TLSFiles{CAFile: "/tls/ca.pem", CertFile: "/tls/proxy.pem", KeyFile: "/tls/proxy-key.pem"}
	for _, c := range []struct {
		addr, sni string
		san       tlsv3.SubjectAltNameMatcher_SanType
		files     *TLSFiles
	}{
		{"gatehouse:18000", "gatehouse", tlsv3.SubjectAltNameMatcher_DNS, files},
		{"10.0.0.5:18000", "", tlsv3.SubjectAltNameMatcher_IP_ADDRESS, files},
		{"[2001:db8::1]:18000", "", tlsv3.SubjectAltNameMatcher_IP_ADDRESS, &TLSFiles{CAFile: "/tls/ca.pem"}},
	} {
		o := DefaultOptions("edge")
		o.XDSAddrs, o.TLS = []string{c.addr}, c.files
		out, err := EnvoyBootstrap(o)
		if err != nil {
			t.Fatal(err)
		}
		b := parseEnvoy(t, out)
		cl := b.GetStaticResources().GetClusters()[0]
		ctx := &tlsv3.UpstreamTlsContext{}
		if err := cl.GetTransportSocket().GetTypedConfig().UnmarshalTo(ctx); err != nil {
			t.Fatalf("%s: transport socket: %v\n%s", c.addr, err, out)
		}
		common := ctx.GetCommonTlsContext()
		vc := common.GetValidationContext()
		if ctx.GetSni() != c.sni || len(common.GetAlpnProtocols()) != 1 || common.GetAlpnProtocols()[0] != "h2" ||
			vc.GetTrustedCa().GetFilename() != "/tls/ca.pem" || vc.GetMatchTypedSubjectAltNames()[0].GetSanType() != c.san {
			t.Errorf("%s: TLS context %v", c.addr, ctx)
		}
		certs := common.GetTlsCertificates()
		if c.files.CertFile == "" {
			if len(certs) != 0 {
				t.Errorf("%s: a client certificate without one given", c.addr)
			}
			continue
		}
		if len(certs) != 1 || certs[0].GetCertificateChain().GetFilename() != "/tls/proxy.pem" || certs[0].GetPrivateKey().GetFilename() != "/tls/proxy-key.pem" {
			t.Errorf("%s: client certificate %v", c.addr, certs)
		}
	}
	// Replicas share one cluster: no SNI, and any replica's host may be
	// named by the certificate it presents.
	o := DefaultOptions("edge")
	o.XDSAddrs, o.TLS = []string{"gh-1:18000", "10.0.0.6:18000"}, files
	out, err := EnvoyBootstrap(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx := &tlsv3.UpstreamTlsContext{}
	if err := parseEnvoy(t, out).GetStaticResources().GetClusters()[0].GetTransportSocket().GetTypedConfig().UnmarshalTo(ctx); err != nil {
		t.Fatal(err)
	}
	sans := ctx.GetCommonTlsContext().GetValidationContext().GetMatchTypedSubjectAltNames()
	if ctx.GetSni() != "" || len(sans) != 2 || sans[0].GetMatcher().GetExact() != "gh-1" || sans[0].GetSanType() != tlsv3.SubjectAltNameMatcher_DNS ||
		sans[1].GetMatcher().GetExact() != "10.0.0.6" || sans[1].GetSanType() != tlsv3.SubjectAltNameMatcher_IP_ADDRESS {
		t.Errorf("replicas: SNI %q, SANs %v", ctx.GetSni(), sans)
	}
	// Without TLS nothing changes.
	out, err = EnvoyBootstrap(DefaultOptions("edge"))
	if err != nil {
		t.Fatal(err)
	}
	if parseEnvoy(t, out).GetStaticResources().GetClusters()[0].GetTransportSocket() != nil {
		t.Error("a transport socket without TLS")
	}
	for _, bad := range []*TLSFiles{{CertFile: "c", KeyFile: "k"}, {CAFile: "a", CertFile: "c"}, {CAFile: "a", KeyFile: "k"}} {
		o := DefaultOptions("edge")
		o.TLS = bad
		if _, err := EnvoyBootstrap(o); err == nil || !strings.Contains(err.Error(), "tls") {
			t.Errorf("%+v: %v, want a tls error", bad, err)
		}
	}
}

// --format grpc --tls: grpc-go's "tls" channel credentials with the files,
// which grpc-go itself accepts (a real client connects with it in
// test/e2e TestProxylessClientOverMTLS).
func TestGRPCBootstrapTLS(t *testing.T) {
	o := DefaultOptions("edge")
	o.TLS = &TLSFiles{CAFile: "/tls/ca.pem", CertFile: "/tls/proxy.pem", KeyFile: "/tls/proxy-key.pem"}
	out, err := GRPCBootstrap(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := grpcParse(t, out); err != nil {
		t.Fatalf("grpc-go refuses the bootstrap: %v\n%s", err, out)
	}
	var b grpcBootstrap
	if err := json.Unmarshal(out, &b); err != nil {
		t.Fatal(err)
	}
	cr := b.XDSServers[0].ChannelCreds
	if len(cr) != 1 || cr[0].Type != "tls" || cr[0].Config["ca_certificate_file"] != "/tls/ca.pem" ||
		cr[0].Config["certificate_file"] != "/tls/proxy.pem" || cr[0].Config["private_key_file"] != "/tls/proxy-key.pem" {
		t.Fatalf("channel_creds %+v", cr)
	}
}
