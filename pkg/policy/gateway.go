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
	validateClientIP(o, g)
	if lim := g.Spec.Limits; lim != nil {
		if o.has("spec.limits.maxRequestHeadersKB") && (lim.MaxRequestHeadersKB < 1 || lim.MaxRequestHeadersKB > maxRequestHeadersKB) {
			o.add("spec.limits.maxRequestHeadersKB", "%d is out of range; 1..%d", lim.MaxRequestHeadersKB, maxRequestHeadersKB)
		}
		positiveDuration(o, "spec.limits.requestTimeout", lim.RequestTimeout)
		positiveDuration(o, "spec.limits.streamIdleTimeout", lim.StreamIdleTimeout)
		validateEdgeLimits(o, lim)
	}
	validateIPAccess(o, g.Spec.IPAccess)
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
	validateTracing(o, g.Spec.Tracing)
	if d := g.Spec.Defaults; d != nil && d.Authentication != nil {
		checkNameList(o, "spec.defaults.authentication", KindAuthentication, *d.Authentication)
	}
	if d := g.Spec.Defaults; d != nil {
		validateCORS(o, "spec.defaults.cors", d.CORS, false)
		validateCache(o, "spec.defaults.cache", d.Cache, false)
		validateCDN(o, "spec.defaults.cdn", d.CDN, false)
		validateCompression(o, "spec.defaults.compression", d.Compression, false)
		if o.has("spec.defaults.transformation") && (d.Transformation == "" || d.Transformation == TransformationNone) {
			o.add("spec.defaults.transformation", "must name a Transformation (omit it for none)")
		}
		validateUpgrades(o, "spec.defaults.upgrades", d.Upgrades, true)
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
	if t.ClientCertificates != nil {
		validateClientCertificates(files, o, p+".clientCertificates", file, t.ClientCertificates)
	}
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
	case a.ProxyProtocol != b.ProxyProtocol:
		// One Envoy listener per port, and listener filters are per
		// listener: a port either requires the PROXY protocol or not.
		return "is shared with OTHER, which differs in proxyProtocol; listeners on one port must all set it or none"
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

// maxTracingTags bounds the literal span tags of a Gateway.
const maxTracingTags = 32

func validateTracing(o *objErrs, t *Tracing) {
	if t == nil {
		return
	}
	switch t.Provider {
	case TracingOpenTelemetry, TracingZipkin:
	case "":
		o.add("spec.tracing.provider", "required; one of openTelemetry, zipkin")
	default:
		o.add("spec.tracing.provider", "%q is not a tracing provider; one of openTelemetry, zipkin", t.Provider)
	}
	if t.Service == "" {
		o.add("spec.tracing.service", "required: the Service of the trace collector")
	}
	if p := t.SamplePercent; p != nil && !validPercent(*p) {
		o.add("spec.tracing.samplePercent", "%v is out of range; 0..100 in steps of 0.0001", *p)
	}
	if len(t.Tags) > maxTracingTags {
		o.add("spec.tracing.tags", "%d tags; at most %d", len(t.Tags), maxTracingTags)
	}
	for _, k := range sortedKeys(t.Tags) {
		v := t.Tags[k]
		if !validTagName(k) {
			o.add("spec.tracing.tags."+k, "%q is not a tag name: 1-64 of letters, digits, '.', '_', '-'", k)
		}
		if len(v) > 256 {
			o.add("spec.tracing.tags."+k, "value of %d bytes; at most 256", len(v))
		}
	}
}

func validTagName(k string) bool {
	if k == "" || len(k) > 64 {
		return false
	}
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}
