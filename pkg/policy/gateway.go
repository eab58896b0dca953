package policy

import (
	"crypto/tls"
	"fmt"
	"math"
	"path"
	"strings"
)

// Envoy's http_connection_manager max_request_headers_kb upper bound.
const maxRequestHeadersKB = 8192

func validateGateway(files *fileReader, o *objErrs, g *Gateway) {
	names := map[string]string{} // listener name -> path of first use
	for i := range g.Spec.Listeners {
		l := &g.Spec.Listeners[i]
		p := fmt.Sprintf("spec.listeners[%d]", i)
		switch {
		case l.Name == "":
			o.add(p+".name", "required; it %s", nameRule)
		case !nameRE.MatchString(l.Name):
			o.add(p+".name", "%q is not a valid listener name: it %s", l.Name, nameRule)
		case names[l.Name] != "":
			o.add(p+".name", "duplicate listener name %q (also %s, line %d)", l.Name, names[l.Name], o.lineOf(names[l.Name]+".name"))
		default:
			names[l.Name] = p
		}
		if l.Port < 1 || l.Port > 65535 {
			o.add(p+".port", "%d is out of range; a port is 1..65535", l.Port)
		}
		validateListenerHostnames(o, p, l.Hostnames)
		validateHTTPSRedirect(o, p, l)
		switch l.Protocol {
		case ProtocolHTTP:
			if l.TLS != nil {
				o.add(p+".tls", "only an HTTPS listener takes tls; set protocol: HTTPS or remove tls")
			}
		case ProtocolHTTPS:
			validateListenerTLS(files, o, p+".tls", g.File, l.TLS)
		case "":
			o.add(p+".protocol", "required; one of HTTP, HTTPS")
		default:
			o.add(p+".protocol", "%q is not a listener protocol; one of HTTP, HTTPS", l.Protocol)
		}
	}
	validatePorts(o, g.Spec.Listeners)
	if lim := g.Spec.Limits; lim != nil {
		if o.has("spec.limits.maxRequestHeadersKB") && (lim.MaxRequestHeadersKB < 1 || lim.MaxRequestHeadersKB > maxRequestHeadersKB) {
			o.add("spec.limits.maxRequestHeadersKB", "%d is out of range; 1..%d", lim.MaxRequestHeadersKB, maxRequestHeadersKB)
		}
		positiveDuration(o, "spec.limits.requestTimeout", lim.RequestTimeout)
		positiveDuration(o, "spec.limits.streamIdleTimeout", lim.StreamIdleTimeout)
	}
	if al := g.Spec.AccessLog; al != nil {
		if !oneOf(al.Format, "", "json", "text") {
			o.add("spec.accessLog.format", "%q is not an access log format; one of json, text", al.Format)
		}
		if o.has("spec.accessLog.path") && !path.IsAbs(al.Path) {
			o.add("spec.accessLog.path", "%q must be an absolute path on the proxy host, such as /dev/stdout", al.Path)
		}
		if p := al.SuccessSamplePercent; p != nil && !validPercent(*p) {
			o.add("spec.accessLog.successSamplePercent", "%v is out of range; 0..100 in steps of 0.0001", *p)
		}
		if s := al.OpenTelemetry; s != nil && s.Service == "" {
			o.add("spec.accessLog.openTelemetry.service", "required: the Service of the OpenTelemetry collector (protocol GRPC)")
		}
	}
	if d := g.Spec.Defaults; d != nil && d.Authentication != nil {
		checkNameList(o, "spec.defaults.authentication", KindAuthentication, *d.Authentication)
	}
	if d := g.Spec.Defaults; d != nil {
		validateCORS(o, "spec.defaults.cors", d.CORS, false)
	}
	validateProxyless(o, "spec.proxyless")
	validateZone(o, g)
}

// positiveDuration: when the field is present it must be > 0 (omitted means
// the translator's default).
func positiveDuration(o *objErrs, p string, d Duration) {
	if o.has(p) && d <= 0 {
		o.add(p, "must be greater than 0 (omit it for the default)")
	}
}

func validateListenerHostnames(o *objErrs, p string, hosts []string) {
	seen := map[string]bool{}
	for i, h := range hosts {
		hp := fmt.Sprintf("%s.hostnames[%d]", p, i)
		switch {
		case h == "*":
			o.add(hp, `"*" is not allowed here; omit hostnames to serve any host`)
		case !dnsName(h) && !wildcardName(h):
			o.add(hp, "%q is not a valid hostname; use %s", h, hostRule)
		case seen[h]:
			o.add(hp, "duplicate hostname %q", h)
		}
		seen[h] = true
	}
}

func validateListenerTLS(files *fileReader, o *objErrs, p, file string, t *ListenerTLS) {
	if t == nil {
		o.add(p, "required for an HTTPS listener: certificate and key")
		return
	}
	if !oneOf(t.MinVersion, "", "1.2", "1.3") {
		o.add(p+".minVersion", "%q is not allowed; one of \"1.2\", \"1.3\"", t.MinVersion)
	}
	cert, _, okc := files.readRelative(o, p+".certificate", file, t.Certificate)
	key, _, okk := files.readRelative(o, p+".key", file, t.Key)
	if !okc || !okk {
		return
	}
	if _, err := tls.X509KeyPair(cert, key); err != nil {
		// The error text of X509KeyPair never includes key material.
		o.add(p, "certificate and key do not form a valid PEM key pair: %v", err)
		return
	}
	t.CertificatePEM, t.KeyPEM = cert, key
}

// validatePorts rejects listeners that cannot share a port: different
// protocols, two HTTP listeners, or HTTPS listeners whose SNI hostnames
// overlap (Envoy could not pick a filter chain deterministically). Each
// listener is reported once, against the first listener it conflicts with.
func validatePorts(o *objErrs, ls []Listener) {
	byPort := map[int][]int{}
	for j := range ls {
		b := &ls[j]
		if b.Port == 0 {
			continue
		}
		for _, i := range byPort[b.Port] {
			if msg := portConflict(&ls[i], b); msg != "" {
				other := fmt.Sprintf("listener %q (line %d)", ls[i].Name, o.lineOf(fmt.Sprintf("spec.listeners[%d]", i)))
				o.add(fmt.Sprintf("spec.listeners[%d].port", j), "port %d %s", b.Port, strings.ReplaceAll(msg, "OTHER", other))
				break
			}
		}
		byPort[b.Port] = append(byPort[b.Port], j)
	}
}

// portConflict explains why b cannot share a's port ("" if it can); OTHER
// stands for a's description.
func portConflict(a, b *Listener) string {
	switch {
	case a.Protocol != b.Protocol:
		return fmt.Sprintf("is already used by OTHER with protocol %s; a port serves one protocol", a.Protocol)
	case a.Protocol == ProtocolHTTP:
		return "is already used by HTTP OTHER; merge them into one listener"
	case a.Protocol == ProtocolHTTPS:
		if h1, h2, ok := overlap(a.Hostnames, b.Hostnames); ok {
			return fmt.Sprintf("is shared with OTHER and hostnames overlap (%s and %s); HTTPS listeners on one port need disjoint hostnames", h1, h2)
		}
	}
	return ""
}

// overlap finds two overlapping hostnames of two listeners; no hostnames
// means "any".
func overlap(a, b []string) (string, string, bool) {
	if len(a) == 0 {
		a = []string{""}
	}
	if len(b) == 0 {
		b = []string{""}
	}
	for _, x := range a {
		for _, y := range b {
			if hostsOverlap(x, y) {
				return anyName(x), anyName(y), true
			}
		}
	}
	return "", "", false
}

func anyName(h string) string {
	if h == "" {
		return "any"
	}
	return h
}

// validPercent: 0..100 with at most four decimals, which Envoy's
// FractionalPercent per million carries exactly.
func validPercent(p float64) bool {
	if p < 0 || p > 100 || p != p {
		return false
	}
	m := p * 10000
	return math.Abs(m-math.Round(m)) < 1e-6
}
