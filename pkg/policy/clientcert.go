package policy

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"strings"
)

// Client certificate modes (ClientCertificates.Mode).
const (
	ClientCertRequired = "required"
	ClientCertOptional = "optional"
)

// ClientCertificates is a listener's mTLS: which client certificates it
// accepts. Envoy verifies them; gatehouse's ext_authz service maps a
// verified one to a Consumer (ConsumerCertificate).
type ClientCertificates struct {
	// Mode is required (default: a connection without a valid client
	// certificate is refused in the handshake) or optional (one without a
	// certificate is let in; an invalid one is still refused).
	Mode    string `yaml:"mode"`
	CAFile  string `yaml:"caFile"`  // PEM CA certificates, relative to the file naming it
	CRLFile string `yaml:"crlFile"` // PEM or DER revocation list of one of those CAs; optional
	// Filled by Load from the files above.
	CAPEM  []byte `yaml:"-"`
	CRLPEM []byte `yaml:"-"`
}

// Required reports whether a client certificate is required.
func (c *ClientCertificates) Required() bool { return c.Mode != ClientCertOptional }

// ConsumerCertificate names one client certificate identity of a Consumer:
// exactly one of Subject (RFC 4514, as Go prints it: "CN=alice,O=Acme"),
// URISAN (such as spiffe://example.org/alice) or DNSSAN.
type ConsumerCertificate struct {
	Subject string `yaml:"subject"`
	URISAN  string `yaml:"uriSAN"`
	DNSSAN  string `yaml:"dnsSAN"`
}

// Key is the identity as one string ("subject:...", "uri:...",
// "dns:..."), the form the ext_authz service looks up.
func (c ConsumerCertificate) Key() string {
	switch {
	case c.URISAN != "":
		return "uri:" + c.URISAN
	case c.DNSSAN != "":
		return "dns:" + strings.ToLower(c.DNSSAN)
	default:
		return "subject:" + c.Subject
	}
}

func validateClientCertificates(files *fileReader, o *objErrs, p, file string, c *ClientCertificates) {
	if !oneOf(c.Mode, "", ClientCertRequired, ClientCertOptional) {
		o.add(p+".mode", "%q is not allowed; one of %q, %q", c.Mode, ClientCertRequired, ClientCertOptional)
	}
	if c.CAFile == "" {
		o.add(p+".caFile", "required: the PEM file of the CA certificates client certificates must chain to")
		return
	}
	data, full, ok := files.readRelative(o, p+".caFile", file, c.CAFile)
	if !ok {
		return
	}
	cas, err := parseCertsPEM(data)
	if err != nil {
		o.add(p+".caFile", "%s: %v", full, err)
		return
	}
	c.CAPEM = data
	if c.CRLFile == "" {
		return
	}
	crlData, crlFull, ok := files.readRelative(o, p+".crlFile", file, c.CRLFile)
	if !ok {
		return
	}
	der := crlData
	if b, _ := pem.Decode(crlData); b != nil {
		if b.Type != "X509 CRL" {
			o.add(p+".crlFile", "%s: PEM block %q, want \"X509 CRL\"", crlFull, b.Type)
			return
		}
		der = b.Bytes
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		o.add(p+".crlFile", "%s is not a revocation list: %v", crlFull, err)
		return
	}
	// Envoy checks every certificate against the CRL of its issuer; a CRL
	// of another CA would revoke nothing.
	signed := false
	for _, ca := range cas {
		if crl.CheckSignatureFrom(ca) == nil {
			signed = true
			break
		}
	}
	if !signed {
		o.add(p+".crlFile", "%s is not signed by a CA of caFile (issuer %s)", crlFull, crl.Issuer)
		return
	}
	c.CRLPEM = pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
}

func parseCertsPEM(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	rest := bytes.TrimSpace(data)
	for len(rest) > 0 {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, fmt.Errorf("not PEM certificates")
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %q, want CERTIFICATE", b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %v", len(out)+1, err)
		}
		if !c.IsCA {
			return nil, fmt.Errorf("certificate %d (%s) is not a CA", len(out)+1, c.Subject)
		}
		out = append(out, c)
		rest = bytes.TrimSpace(rest)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no certificate")
	}
	return out, nil
}

func validateConsumerCertificates(o *objErrs, certs []ConsumerCertificate) {
	seen := map[string]string{}
	for i, c := range certs {
		p := fmt.Sprintf("spec.certificates[%d]", i)
		if countSet(c.Subject != "", c.URISAN != "", c.DNSSAN != "") != 1 {
			o.add(p, "set exactly one of subject, uriSAN, dnsSAN")
			continue
		}
		switch {
		case c.URISAN != "":
			if u, err := url.Parse(c.URISAN); err != nil || u.Scheme == "" {
				o.add(p+".uriSAN", "%q is not an absolute URI (such as spiffe://example.org/alice)", c.URISAN)
			}
		case c.DNSSAN != "":
			if !dnsName(strings.ToLower(strings.TrimPrefix(c.DNSSAN, "*."))) {
				o.add(p+".dnsSAN", "%q is not a DNS name", c.DNSSAN)
			}
		default:
			if !strings.Contains(c.Subject, "=") {
				o.add(p+".subject", "%q is not a distinguished name (RFC 4514, such as CN=alice,O=Acme)", c.Subject)
			}
		}
		if first := seen[c.Key()]; first != "" {
			o.add(p, "duplicate certificate identity (also %s)", first)
		} else {
			seen[c.Key()] = p
		}
	}
}

// asksClientCertificates reports whether a listener of g asks clients
// for certificates: only there can Envoy pass a verified one to ext_authz.
func asksClientCertificates(g *Gateway) bool {
	for _, l := range g.Spec.Listeners {
		if l.TLS != nil && l.TLS.ClientCertificates != nil {
			return true
		}
	}
	return false
}
