package translate

import (
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// setClientCertificates makes a listener ask for client certificates
// (mTLS): checked against the trusted CAs and the revocation list, given
// inline (Load read and checked the files). require_client_certificate is
// always set explicitly: with a validation context and the field unset,
// Envoy falls back to a deprecated insecure default of not requiring one
// (source/common/tls/server_context_config_impl.cc). In optional mode a
// client without a certificate is let in; one with an invalid certificate
// is still refused in the handshake.
func setClientCertificates(ctx *tlsv3.DownstreamTlsContext, cc *policy.ClientCertificates) {
	if cc == nil {
		return
	}
	ctx.RequireClientCertificate = wrapperspb.Bool(cc.Required())
	vc := &tlsv3.CertificateValidationContext{
		TrustedCa: &corev3.DataSource{Specifier: &corev3.DataSource_InlineBytes{InlineBytes: cc.CAPEM}},
	}
	if len(cc.CRLPEM) > 0 {
		vc.Crl = &corev3.DataSource{Specifier: &corev3.DataSource_InlineBytes{InlineBytes: cc.CRLPEM}}
	}
	ctx.CommonTlsContext.ValidationContextType = &tlsv3.CommonTlsContext_ValidationContext{ValidationContext: vc}
}

// setForwardClientCert: on a listener that asks for client certificates
// the upstream gets an x-forwarded-client-cert header describing the
// verified certificate (subject, URI and DNS SANs) and nothing a client
// sent: SANITIZE_SET replaces any client-sent header
// (envoy/extensions/filters/network/http_connection_manager/v3, enum
// ForwardClientCertDetails; Envoy: source/common/http/conn_manager_utility.cc,
// mutateXfccRequestHeader). Gatehouse's authorization never reads the
// header: it reads the connection's certificate (pkg/authz clientcert.go).
func setForwardClientCert(h *hcmv3.HttpConnectionManager, l *policy.Listener) {
	if l.TLS == nil || l.TLS.ClientCertificates == nil {
		return
	}
	h.ForwardClientCertDetails = hcmv3.HttpConnectionManager_SANITIZE_SET
	h.SetCurrentClientCertDetails = &hcmv3.HttpConnectionManager_SetCurrentClientCertDetails{
		Subject: wrapperspb.Bool(true), Uri: true, Dns: true,
	}
}

// gatewayAsksClientCertificates reports whether a listener of gw asks for
// client certificates: ext_authz then sends the verified certificate
// (include_peer_certificate) for clientCertificate Authentications.
func gatewayAsksClientCertificates(gw *policy.Gateway) bool {
	for _, l := range gw.Spec.Listeners {
		if l.TLS != nil && l.TLS.ClientCertificates != nil {
			return true
		}
	}
	return false
}

// clientCertRequirement: a downstream TLS context that verifies client
// certificates says whether it requires one. Unset, Envoy does not
// require one and only logs a warning (the deprecated insecure default:
// source/common/tls/server_context_config_impl.cc); gatehouse never
// leaves that to a default.
func (c *checker) clientCertRequirement(where string, d *tlsv3.DownstreamTlsContext) {
	if d.GetCommonTlsContext().GetValidationContextType() != nil && d.GetRequireClientCertificate() == nil {
		c.fail("%s: a validation context without an explicit require_client_certificate (Envoy's insecure default: not required)", where)
	}
}
