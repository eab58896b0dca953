package peerauth

import (
	"crypto/x509"
	"fmt"
	"regexp"
	"strings"
)

// gatewayPath is the path of a SPIFFE ID naming a Gateway.
const gatewayPath = "/gateway/"

// nameRE is a Gateway name as the policy model allows it (a DNS label).
var nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// trustDomainRE is a SPIFFE trust domain: lowercase letters, digits,
// '.', '-' and '_' (the SPIFFE ID specification).
var trustDomainRE = regexp.MustCompile(`^[a-z0-9._-]+$`)

// CheckTrustDomain reports whether td may be used as a trust domain.
func CheckTrustDomain(td string) error {
	if !trustDomainRE.MatchString(td) || strings.HasPrefix(td, ".") || strings.HasSuffix(td, ".") {
		return fmt.Errorf("trust domain %q: use lowercase letters, digits, '.', '-' and '_' (e.g. gatehouse.example.com)", td)
	}
	return nil
}

// SPIFFEID is the URI SAN naming Gateway name in trustDomain.
func SPIFFEID(trustDomain, name string) string {
	return "spiffe://" + trustDomain + gatewayPath + name
}

// DNSName is the DNS SAN naming Gateway name in trustDomain.
func DNSName(trustDomain, name string) string {
	return name + ".gateway." + trustDomain
}

// gatewayOf returns the Gateway a verified certificate names in
// trustDomain, or a refusal reason: SANs of other trust domains or other
// shapes are ignored, and a certificate naming no Gateway, or two
// different ones, names none (fail closed: which one would it be?).
func gatewayOf(cert *x509.Certificate, trustDomain string) (string, *refusal) {
	names := map[string]struct{}{}
	for _, u := range cert.URIs {
		// SPIFFE IDs carry no user, port, query, fragment or percent-
		// encoding (RawPath is set when the path was escaped otherwise
		// than its plain form): such a URI names nothing here. (An
		// opaque URI has no host, so the host check refuses it.)
		if u.Scheme != "spiffe" || u.Host != trustDomain || u.User != nil || u.RawQuery != "" || u.ForceQuery ||
			u.Fragment != "" || u.Port() != "" || u.RawPath != "" {
			continue
		}
		if name, ok := strings.CutPrefix(u.Path, gatewayPath); ok && nameRE.MatchString(name) {
			names[name] = struct{}{}
		}
	}
	for _, d := range cert.DNSNames {
		if name, ok := strings.CutSuffix(d, ".gateway."+trustDomain); ok && nameRE.MatchString(name) {
			names[name] = struct{}{}
		}
	}
	switch len(names) {
	case 0:
		return "", refuse(reasonNoIdentity, "the client certificate names no Gateway of trust domain %q: give it the URI SAN %s or the DNS SAN %s",
			trustDomain, SPIFFEID(trustDomain, "<gateway>"), DNSName(trustDomain, "<gateway>"))
	case 1:
		for n := range names {
			return n, nil
		}
	}
	return "", refuse(reasonAmbiguousIdentity, "the client certificate names %d Gateways of trust domain %q; it must name exactly one", len(names), trustDomain)
}
