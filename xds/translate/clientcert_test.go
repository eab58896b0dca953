package translate

import (
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

func downstreamTLSOf(t *testing.T, fc *listenerv3.FilterChain) *tlsv3.DownstreamTlsContext {
	t.Helper()
	d := &tlsv3.DownstreamTlsContext{}
	if err := fc.GetTransportSocket().GetTypedConfig().UnmarshalTo(d); err != nil {
		t.Fatal(err)
	}
	return d
}

// Listeners with client certificates: required or optional as the policy
// says, the CA and CRL inline; the upstream's x-forwarded-client-cert is
// built from the verified certificate only (a client-sent one is
// replaced: SANITIZE_SET); ext_authz receives the certificate.
func TestClientCertificateListeners(t *testing.T) {
	g := translateCase(t, "mtls", Options{})[GroupKey{"api", ClientEnvoy}]
	if err := Check(g, nil); err != nil {
		t.Fatalf("Check: %v", err)
	}
	want := map[string]bool{"partners": true, "public": false}
	for _, r := range g.Listeners {
		for _, fc := range r.(*listenerv3.Listener).GetFilterChains() {
			d := downstreamTLSOf(t, fc)
			req, ok := want[fc.GetName()]
			if !ok {
				t.Fatalf("unexpected filter chain %s", fc.GetName())
			}
			if d.GetRequireClientCertificate() == nil || d.GetRequireClientCertificate().GetValue() != req {
				t.Errorf("%s: require_client_certificate %v, want %v", fc.GetName(), d.GetRequireClientCertificate(), req)
			}
			vc := d.GetCommonTlsContext().GetValidationContext()
			if !strings.Contains(string(vc.GetTrustedCa().GetInlineBytes()), "BEGIN CERTIFICATE") {
				t.Errorf("%s: trusted_ca %v", fc.GetName(), vc.GetTrustedCa())
			}
			if hasCRL := vc.GetCrl() != nil; hasCRL != req {
				t.Errorf("%s: crl present %v", fc.GetName(), hasCRL)
			}
		}
	}
	for _, h := range hcmsOf(t, g) {
		if h.GetForwardClientCertDetails() != hcmv3.HttpConnectionManager_SANITIZE_SET || !h.GetSetCurrentClientCertDetails().GetUri() {
			t.Errorf("%s: forward_client_cert_details %v, set %v", h.GetStatPrefix(), h.GetForwardClientCertDetails(), h.GetSetCurrentClientCertDetails())
		}
		for _, f := range h.GetHttpFilters() {
			if f.GetName() == wire.FilterExtAuthzClosed {
				e := &extauthzv3.ExtAuthz{}
				if err := f.GetTypedConfig().UnmarshalTo(e); err != nil {
					t.Fatal(err)
				}
				if !e.GetIncludePeerCertificate() {
					t.Errorf("%s: ext_authz without include_peer_certificate", h.GetStatPrefix())
				}
			}
		}
	}
	// Gateways without client certificates keep Envoy's default
	// (SANITIZE: a client-sent header is removed) and send no certificate.
	for _, h := range hcmsOf(t, translateCase(t, "auth", Options{})[GroupKey{"edge", ClientEnvoy}]) {
		if h.GetForwardClientCertDetails() != hcmv3.HttpConnectionManager_SANITIZE {
			t.Errorf("auth case: forward_client_cert_details %v", h.GetForwardClientCertDetails())
		}
	}
}

// Check refuses a validation context that leaves require_client_certificate
// to Envoy's insecure default.
func TestCheckClientCertRequireExplicit(t *testing.T) {
	g := translateCase(t, "mtls", Options{})[GroupKey{"api", ClientEnvoy}]
	fc := g.Listeners[0].(*listenerv3.Listener).GetFilterChains()[0]
	d := downstreamTLSOf(t, fc)
	d.RequireClientCertificate = nil
	g.checked = false // mutated after Translate checked it
	fc.TransportSocket.ConfigType = &corev3.TransportSocket_TypedConfig{TypedConfig: mustAny(d)}
	err := Check(g, nil)
	if err == nil || !strings.Contains(err.Error(), "without an explicit require_client_certificate") {
		t.Errorf("Check = %v", err)
	}
}
