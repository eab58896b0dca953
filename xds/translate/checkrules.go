package translate

import (
	"fmt"
	"math"
	"net/netip"
	"regexp/syntax"
	"strconv"
	"strings"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/proto"
)

// Rules Envoy enforces when it loads a resource, beyond what the PGV
// annotations (ValidateAll) express. Each cites the Envoy source that
// enforces it; a resource breaking one is refused by Envoy (NACK), and
// with it every change of the same push.

// tlsValidation: a validation context that checks SANs, loads a CRL or
// accepts expired certificates needs a trusted CA; Envoy does not read
// system_root_certs (see envoyapi.go).
// Envoy: source/common/ssl/certificate_validation_context_config_impl.cc
// (CertificateValidationContextConfigImpl::initialize). Proxyless groups
// verify against a certificate provider instance, which grpc-go reads.
func (c *checker) tlsValidation(where string, ctx *tlsv3.CommonTlsContext) {
	if !c.envoy {
		return
	}
	vc := ctx.GetValidationContext()
	if vc == nil {
		if cv := ctx.GetCombinedValidationContext(); cv != nil {
			vc = cv.GetDefaultValidationContext()
		}
	}
	if vc == nil || vc.GetTrustedCa() != nil || vc.GetCustomValidatorConfig() != nil {
		return
	}
	switch {
	case len(vc.GetMatchTypedSubjectAltNames()) > 0 || len(vc.GetMatchSubjectAltNames()) > 0: //nolint:staticcheck // Envoy still reads the deprecated field
		c.fail("%s: SAN matchers without trusted_ca: Envoy refuses SAN-based verification without a trusted CA", where)
	case vc.GetCrl() != nil:
		c.fail("%s: crl without trusted_ca: Envoy refuses a CRL without a trusted CA", where)
	case vc.GetAllowExpiredCertificate():
		c.fail("%s: allow_expired_certificate without trusted_ca: Envoy refuses it", where)
	}
}

// listenerAddresses: two listeners may not bind the same address.
// Envoy: source/common/listener_manager/listener_manager_impl.cc ("has
// duplicate address ... as existing listener"); duplicate names are
// refused in source/common/listener_manager/lds_api.cc ("duplicate
// listener {} found"), which names() covers.
func (c *checker) listenerAddress(l *listenerv3.Listener, seen map[string]string) {
	sa := l.GetAddress().GetSocketAddress()
	if sa == nil {
		return // api_listener (proxyless) or a pipe: nothing bound
	}
	key := fmt.Sprintf("%s/%s:%d", sa.GetProtocol(), strings.ToLower(sa.GetAddress()), sa.GetPortValue())
	if other, dup := seen[key]; dup {
		c.fail("listener %s: address %s:%d is also listener %s's (Envoy refuses a duplicate address)", l.GetName(), sa.GetAddress(), sa.GetPortValue(), other)
		return
	}
	seen[key] = l.GetName()
}

// virtualHostDomains: a domain may appear once per route table (compared
// lower-case, as Envoy stores them), and "*" once.
// Envoy: source/common/router/config_impl.cc (RouteMatcher: "Only unique
// values for domains are permitted", "Only a single wildcard domain is
// permitted").
func (c *checker) virtualHostDomains(rc *routev3.RouteConfiguration) {
	seen := map[string]string{}
	for _, vh := range rc.GetVirtualHosts() {
		for _, d := range vh.GetDomains() {
			k := strings.ToLower(d)
			if other, dup := seen[k]; dup {
				c.fail("route config %s: domain %q is in virtual hosts %s and %s (Envoy refuses duplicate domains)", rc.GetName(), d, other, vh.GetName())
				continue
			}
			seen[k] = vh.GetName()
		}
	}
}

// headerOps: request and response header changes may not touch
// pseudo-headers or Host, may not set both append and append_action, and
// values are Envoy substitution format strings, so a literal '%' must be
// written "%%".
// Envoy: source/common/router/header_parser.cc (":-prefixed or host
// headers may not be modified/removed", "Both append and append_action are
// set"), source/common/formatter/substitution_formatter.cc
// (SubstitutionFormatParser::parse).
func (c *checker) headerOps(at func() string, add []*corev3.HeaderValueOption, remove []string) {
	for _, h := range add {
		k := h.GetHeader().GetKey()
		if !modifiableHeader(k) {
			c.fail("%s: header %q: Envoy does not let :-prefixed or host headers be modified", at(), k)
		}
		if h.GetAppend() != nil && h.GetAppendAction() != corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD {
			c.fail("%s: header %q: both append and append_action are set", at(), k)
		}
		if err := literalFormat(h.GetHeader().GetValue()); err != nil {
			c.fail("%s: header %q: %v", at(), k, err)
		}
	}
	for _, k := range remove {
		if !modifiableHeader(k) {
			c.fail("%s: header %q: Envoy does not let :-prefixed or host headers be removed", at(), k)
		}
	}
}

// modifiableHeader is Envoy's Http::HeaderUtility::isModifiableHeader and
// isRemovableHeader (source/common/http/header_utility.cc).
func modifiableHeader(k string) bool {
	return !strings.HasPrefix(k, ":") && !strings.EqualFold(k, "host")
}

// literalFormat reports a header value Envoy's substitution parser would
// read as a command: every '%' must be escaped as "%%" (gatehouse never
// emits commands in header values).
func literalFormat(v string) error {
	for i := 0; i < len(v); i++ {
		if v[i] != '%' {
			continue
		}
		if i+1 < len(v) && v[i+1] == '%' {
			i++
			continue
		}
		return fmt.Errorf("value %q has an unescaped '%%' that Envoy parses as a substitution command (write %%%%)", v)
	}
	return nil
}

// maxRE2ProgramSize is Envoy's default re2.max_program_size.error_level.
// Envoy: source/common/common/regex.cc (CompiledGoogleReMatcher).
const maxRE2ProgramSize = 100

// regex checks a safe_regex: RE2 syntax (Go's regexp implements the same
// syntax) and the program size limit. Go's compiled program is an
// estimate of RE2's ProgramSize (both count one instruction per literal
// rune, alternation and capture); the figure is reported. Each regex is
// reported once, where it is first seen: Envoy groups walk every
// RegexMatcher (envoyapiwalk.go) besides the route rules.
func (c *checker) regex(at func() string, re string) {
	if _, seen := c.regexes[re]; seen {
		return
	}
	if c.regexes == nil {
		c.regexes = map[string]bool{}
	}
	size, err := re2ProgramSizeMemo(re)
	switch {
	case err != nil:
		c.fail("%s: regex %q is not valid RE2: %v", at(), re, err)
	case size > maxRE2ProgramSize:
		c.fail("%s: regex %q compiles to about %d instructions, over Envoy's default RE2 program size limit of %d", at(), re, size, maxRE2ProgramSize)
	}
	c.regexes[re] = err == nil && size <= maxRE2ProgramSize
}

func re2ProgramSize(re string) (int, error) {
	parsed, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		return 0, err
	}
	prog, err := syntax.Compile(parsed.Simplify())
	if err != nil {
		return 0, err
	}
	return len(prog.Inst), nil
}

func (c *checker) stringMatcher(at func() string, m *matcherv3.StringMatcher) {
	if r := m.GetSafeRegex(); r != nil {
		c.regex(at, r.GetRegex())
	}
}

// routeRules checks one Route against the rules Envoy applies when it
// builds the route table.
func (c *checker) routeRules(at func() string, r *routev3.Route) {
	m := r.GetMatch()
	if !c.envoy && m.GetConnectMatcher() != nil {
		// grpc-go: internal/xds/xdsclient/xdsresource/unmarshal_rds.go
		// knows prefix, path and safe_regex only ("has an unrecognized
		// path specifier"): the whole route table would be NACKed.
		c.fail("%s: a connect_matcher route in a proxyless table (grpc-go refuses the whole table)", at())
	}
	if re := m.GetSafeRegex(); re != nil {
		c.regex(at, re.GetRegex())
	}
	for _, h := range m.GetHeaders() {
		c.stringMatcher(at, h.GetStringMatch())
		if re := h.GetSafeRegexMatch(); re != nil { //nolint:staticcheck // Envoy still reads the deprecated field
			c.regex(at, re.GetRegex())
		}
	}
	for _, q := range m.GetQueryParameters() {
		c.stringMatcher(at, q.GetStringMatch())
	}
	c.headerOps(at, r.GetRequestHeadersToAdd(), r.GetRequestHeadersToRemove())
	c.headerOps(at, r.GetResponseHeadersToAdd(), r.GetResponseHeadersToRemove())
	ra := r.GetRoute()
	if ra == nil {
		return
	}
	// Envoy: source/common/router/config_impl.cc (RouteEntryImplBase:
	// "Specify only one of prefix_rewrite, regex_rewrite or
	// path_rewrite_policy", "Duplicate upgrade", "Non-CONNECT upgrade type
	// has ConnectConfig", retry_policy
	// "max_interval must greater than or equal to the base_interval").
	rewrites := 0
	if ra.GetPrefixRewrite() != "" {
		rewrites++
	}
	if rr := ra.GetRegexRewrite(); rr != nil {
		rewrites++
		c.regex(at, rr.GetPattern().GetRegex())
	}
	if ra.GetPathRewritePolicy() != nil {
		rewrites++
	}
	if rewrites > 1 {
		c.fail("%s: Envoy takes only one of prefix_rewrite, regex_rewrite and path_rewrite_policy", at())
	}
	c.upgradeRules(at, r)
	upgrades := map[string]bool{}
	for _, u := range ra.GetUpgradeConfigs() {
		t := strings.ToLower(u.GetUpgradeType())
		if upgrades[t] {
			c.fail("%s: upgrade type %q twice (Envoy refuses a duplicate upgrade)", at(), u.GetUpgradeType())
		}
		upgrades[t] = true
		// config_impl.cc: "Non-CONNECT upgrade type X has ConnectConfig".
		if u.GetConnectConfig() != nil && t != "connect" && t != "connect-udp" {
			c.fail("%s: upgrade type %q has a connect_config (only CONNECT takes one)", at(), u.GetUpgradeType())
		}
	}
	if bo := ra.GetRetryPolicy().GetRetryBackOff(); bo != nil && bo.GetMaxInterval() != nil &&
		bo.GetMaxInterval().AsDuration() < bo.GetBaseInterval().AsDuration() {
		c.fail("%s: retry back-off max_interval is below base_interval", at())
	}
	if wc := ra.GetWeightedClusters(); wc != nil {
		// Envoy: source/common/router/weighted_cluster_specifier.cc ("Sum
		// of weights in the weighted_cluster must be greater than 0", "The
		// sum of weights of all weighted clusters of route {} exceeds").
		var sum uint64
		for _, cw := range wc.GetClusters() {
			sum += uint64(cw.GetWeight().GetValue())
			c.headerOps(at, cw.GetRequestHeadersToAdd(), cw.GetRequestHeadersToRemove())
			c.headerOps(at, cw.GetResponseHeadersToAdd(), cw.GetResponseHeadersToRemove())
		}
		if sum == 0 {
			c.fail("%s: the weights of its weighted clusters add up to 0", at())
		}
		if sum > math.MaxUint32 {
			c.fail("%s: the weights of its weighted clusters add up to %d, over 2^32-1", at(), sum)
		}
	}
}

// filterChainMatches: no two filter chains of a listener may match the
// same connection: equal matches, or matches equal but for server_names
// that share a name.
// Envoy: source/common/listener_manager/filter_chain_manager_impl.cc
// ("multiple filter chains with the same matching rules are defined",
// "... with overlapping matching rules are defined").
func (c *checker) filterChainMatches(l *listenerv3.Listener) {
	if len(l.GetFilterChains()) < 2 {
		return
	}
	seen := map[string]string{}
	for _, fc := range l.GetFilterChains() {
		rest := &listenerv3.FilterChainMatch{}
		if m := fc.GetFilterChainMatch(); m != nil {
			rest = proto.Clone(m).(*listenerv3.FilterChainMatch)
		}
		names := rest.GetServerNames()
		rest.ServerNames = nil
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(rest)
		if err != nil {
			c.fail("listener %s filter chain %s: %v", l.GetName(), fc.GetName(), err)
			continue
		}
		if len(names) == 0 {
			names = []string{""} // matches every server name
		}
		for _, n := range names {
			k := string(b) + "\x00" + n
			if other, dup := seen[k]; dup {
				what := "server name " + strconv.Quote(n)
				if n == "" {
					what = "no server name"
				}
				c.fail("listener %s: filter chains %s and %s both match %s (Envoy refuses overlapping filter chain matches)", l.GetName(), other, fc.GetName(), what)
				continue
			}
			seen[k] = fc.GetName()
		}
	}
}

// envoyIP reports whether Envoy parses s as an IP address for a CidrRange:
// a bare IPv4 or IPv6 address, no zone, no brackets.
// Envoy: source/common/network/cidr_range.cc (CidrRange::create: "malformed
// IP address"), source/common/network/utility.cc (parseInternetAddressNoThrow).
func envoyIP(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Zone() == ""
}

// clusterRules: a LOGICAL_DNS cluster names exactly one host; a STATIC
// cluster's endpoints are IP addresses.
// Envoy: source/extensions/clusters/logical_dns/logical_dns_cluster.cc
// ("LOGICAL_DNS clusters must have a single locality_lb_endpoint and a
// single lb_endpoint"), source/common/network/resolver_impl.cc ("malformed
// IP address" for a STATIC endpoint).
func (c *checker) clusterRules(cl *clusterv3.Cluster) {
	las := cl.GetLoadAssignment().GetEndpoints()
	if cl.GetEdsClusterConfig() != nil && cl.GetType() != clusterv3.Cluster_EDS {
		// Envoy: source/common/upstream/upstream_impl.cc.
		c.fail("cluster %s: eds_cluster_config set in a non-EDS cluster (%s)", cl.GetName(), cl.GetType())
	}
	switch cl.GetType() {
	case clusterv3.Cluster_LOGICAL_DNS, clusterv3.Cluster_STRICT_DNS:
		c.dnsClusterRules(cl)
	}
	switch cl.GetType() {
	case clusterv3.Cluster_LOGICAL_DNS:
		if len(las) != 1 || len(las[0].GetLbEndpoints()) != 1 {
			c.fail("cluster %s: a LOGICAL_DNS cluster needs exactly one locality with one endpoint", cl.GetName())
		}
	case clusterv3.Cluster_STATIC:
		for _, la := range las {
			for _, e := range la.GetLbEndpoints() {
				if a := e.GetEndpoint().GetAddress().GetSocketAddress().GetAddress(); !envoyIP(a) {
					c.fail("cluster %s: STATIC endpoint %q is not an IP address", cl.GetName(), a)
				}
			}
		}
	}
}
