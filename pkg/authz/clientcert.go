package authz

import (
	"crypto/x509"
	"encoding/pem"
	"net/url"
	"strings"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// maxCertificateBytes bounds the certificate read from a CheckRequest.
const maxCertificateBytes = 64 << 10

// identifyCertificate: when the route accepts client certificates, the
// certificate Envoy verified in the TLS handshake identifies the caller.
// Envoy sends it URL-encoded PEM in source.certificate (ext_authz
// include_peer_certificate; Envoy: source/extensions/filters/common/
// ext_authz/check_request_utils.cc, setAttrContextPeer). Nothing a client
// sends in the request (an x-forwarded-client-cert header, say) is read:
// only the connection's own certificate counts. Its identities are tried
// in order URI SANs, DNS SANs, subject; a verified certificate that names
// no Consumer is an authenticated anonymous caller, as a JWT whose sub is
// nobody's. ok is false without a certificate.
func (st *state) identifyCertificate(attrs *authv3.AttributeContext, names []string) (identity, bool) {
	by := ""
	for _, n := range names {
		if st.certAuth[n] {
			by = n
			break
		}
	}
	raw := attrs.GetSource().GetCertificate()
	if by == "" || raw == "" || len(raw) > 3*maxCertificateBytes {
		return identity{}, false
	}
	cert := parsePeerCertificate(raw)
	if cert == nil {
		return identity{}, false
	}
	ids := certificateIdentities(cert)
	id := identity{consumer: wire.AnonymousConsumer, by: by, subject: ids[len(ids)-1]}
	for _, k := range ids {
		if c, ok := st.certs[k]; ok {
			id.consumer, id.groups, id.subject = c, st.consumers[c].Groups, k
			break
		}
	}
	return id, true
}

func parsePeerCertificate(raw string) *x509.Certificate {
	p, err := url.PathUnescape(raw) // Envoy escapes + as %2B: no + means space here
	if err != nil {
		return nil
	}
	b, _ := pem.Decode([]byte(p))
	if b == nil || b.Type != "CERTIFICATE" {
		return nil
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil
	}
	return c
}

// certificateIdentities lists a certificate's identities as Consumers
// name them (policy.ConsumerCertificate.Key), subject last.
func certificateIdentities(c *x509.Certificate) []string {
	var out []string
	for _, u := range c.URIs {
		out = append(out, "uri:"+u.String())
	}
	for _, d := range c.DNSNames {
		out = append(out, "dns:"+strings.ToLower(d))
	}
	return append(out, "subject:"+c.Subject.String())
}
